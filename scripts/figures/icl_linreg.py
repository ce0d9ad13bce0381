#!/usr/bin/python3
"""Figures of the in-context linear regression study (He et al. 2025) from mechlab run directories.

    scripts/figures/icl_linreg.py STUDY_DIR [--out DIR] [--only FIGURE ...]

STUDY_DIR holds the runs scripts/reproduce/icl_linreg.sh writes: h1, h2, h4, h8, linear_h2, toeplitz_h2,
multitask_h3, multitask_h4 (missing runs skip what needs them, saying so), or is one run directory (e.g.
results/icl_linreg_quick_h2), which then plays the part its config gives it (an H = 2 softmax run is h2). Figures (PNG) and numbers.md go to --out (default STUDY_DIR/figures):

    mse_vs_length       query MSE against the prompt length L' for H = 1, 2, 4, 8 with the baselines
    circuits            KQ and OV of every head at the last dump (one PNG per run)
    omega_mu            omega_h and mu_h over log-scaled training steps (one PNG per run)
    softmax_vs_linear   softmax against linear attention across L'
    toeplitz_kq         the KQ x-block under Toeplitz covariates next to Sigma^-1
    head_roles          multi-task runs (multitask_h3, multitask_h4): what each head reads and writes
    numbers             numbers.md: every number the study doc quotes

Uses numpy and matplotlib only (Debian: python3-numpy python3-matplotlib).
"""
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import study_figures  # noqa: E402  (beside this script)
from study_figures import save_figure  # noqa: E402

HEAD_RUNS = [("h1", 1), ("h2", 2), ("h4", 4), ("h8", 8)]
# He et al.'s H=2 model (d = 5, L = 40) at other prompt lengths, and their MSE at L' = 40 per H.
PAPER_H2_BY_LENGTH = {10: 0.58, 40: 0.241, 100: 0.168}
PAPER_MSE_AT_40 = {1: 0.406, 2: 0.241, 4: 0.245, 8: 0.236}


class Run(study_figures.StudyRun):
    """An in-context regression run: evaluations and the last dump with mse_by_length.csv."""

    eval_key = "eval_mse"

    def __init__(self, path):
        super().__init__(path)
        dumps = sorted(d for d in path.glob("dumps/step_*") if (d / "mse_by_length.csv").exists())
        self.dump = dumps[-1] if dumps else None

    @property
    def heads(self):
        return self.config["model"]["n_heads"]

    @property
    def d(self):
        return self.config["task"]["d"]

    def by_length(self):
        """{column: array over L'} from the last dump's mse_by_length.csv."""
        with open(self.dump / "mse_by_length.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}

    def series(self, metric):
        points = [(r["step"], r[metric]) for r in self.evals if r["step"] >= 1 and metric in r]
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])

    def step(self):
        return int(self.dump.name[5:]) if self.dump else self.last()["step"]


def role(run):
    """The study's name for a lone run, from its config: h<H>, linear_h2, toeplitz_h2 or multitask_h<H>."""
    task, model = run.config["task"], run.config["model"]
    if task.get("outputs", 1) == 2:
        return f"multitask_h{run.heads}"
    if task.get("covariance") == "toeplitz":
        return f"toeplitz_h{run.heads}"
    if model["attention"] in ("linear", "linear_by_length"):
        return f"{model['attention']}_h{run.heads}"
    return f"h{run.heads}"


def length_axes(ax):
    ax.set_xlabel("prompt length L' at evaluation (trained at L = 40)")
    ax.set_ylabel("query MSE (noise included; floor sigma^2 = 0.1)")
    ax.axvline(40, color="grey", linestyle=":", linewidth=1)
    ax.grid(True, alpha=0.3)


def mse_vs_length(runs, out):
    """needs a run of h1, h2, h4 or h8 with a dump (mse_by_length.csv)"""
    present = [(name, h) for name, h in HEAD_RUNS if name in runs and runs[name].dump]
    if not present:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for name, h in present:
        table = runs[name].by_length()
        ax.plot(table["prompt_length"], table["model"], marker="o", label=f"softmax attention, H = {h}")
    baselines = runs[present[0][0]].by_length()
    ax.plot(baselines["prompt_length"], baselines["debiased_gd"], "k--", label="debiased GD (step fitted per L')")
    ax.plot(baselines["prompt_length"], baselines["ridge"], "k:", label="ridge, lambda = sigma^2 d (Bayes optimal)")
    lengths, values = zip(*sorted(PAPER_H2_BY_LENGTH.items()))
    ax.scatter(lengths, values, marker="*", s=140, color="C1", edgecolor="black", zorder=5, label="paper, H = 2")
    length_axes(ax)
    ax.set_title(f"In-context linear regression, d = {runs[present[0][0]].d}: MSE against prompt length "
                 f"({int(baselines['prompts'][0])} prompts per L')", fontsize=10)
    ax.legend(fontsize=8)
    return [save_figure(fig, out / "mse_vs_length.png")]


def circuits(runs, out):
    """needs a one-layer run with a dump (kq.npy, ov.npy)"""
    paths = []
    for run in runs.values():
        if not run.dump or not (run.dump / "kq.npy").exists():
            continue
        kq, ov = np.load(run.dump / "kq.npy"), np.load(run.dump / "ov.npy")  # (H, D, D), (H, D) or (H, D, K)
        if ov.ndim == 2:
            ov = ov[:, :, None]
        H, D, K = ov.shape
        labels = [f"x{i}" for i in range(D - K)] + (["y"] if K == 1 else [f"y{k + 1}" for k in range(K)])
        fig, axes = plt.subplots(2, H, figsize=(3.4 * H + 1, 6.4), squeeze=False,
                                 gridspec_kw={"height_ratios": [D, 1.6]})
        for h in range(H):
            limit = np.abs(kq[h]).max()
            image = axes[0, h].imshow(kq[h], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[0, h].set_xticks(range(D), labels)
            axes[0, h].set_yticks(range(D), labels)
            axes[0, h].set_xlabel("key feature")
            axes[0, h].set_ylabel("query feature")
            axes[0, h].set_title(f"head {h}: KQ (scores = z_q^T KQ z_l)", fontsize=9)
            fig.colorbar(image, ax=axes[0, h], fraction=0.046)
            limit = np.abs(ov[h]).max()
            image = axes[1, h].imshow(ov[h].T, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
            axes[1, h].set_xticks(range(D), labels)
            axes[1, h].set_yticks(range(K), ["out"] if K == 1 else [f"out {k + 1}" for k in range(K)])
            axes[1, h].set_xlabel("key feature read into the output")
            mus = ", ".join(f"{ov[h][D - K + k][k]:.2f}" for k in range(K))
            axes[1, h].set_title(f"head {h}: OV, mu = {mus}", fontsize=9)
            fig.colorbar(image, ax=axes[1, h], fraction=0.046, orientation="horizontal", pad=0.45)
        fig.suptitle(f"{run.name}: weight circuits at step {run.step()}")
        paths.append(save_figure(fig, out / f"circuits_{run.name}.png"))
    return paths


def omega_mu(runs, out):
    """needs a run whose evaluations hold omega and mu"""
    paths = []
    for run in runs.values():
        if f"omega.H0" not in run.last():
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for h in range(run.heads):
            axes[0].plot(*run.series(f"omega.H{h}"), label=f"head {h}")
            axes[1].plot(*run.series(f"mu.H{h}"), label=f"head {h}")
        axes[1].plot(*run.series("mu_sum"), "k--", label="sum of mu")
        for ax, name in zip(axes, ["omega_h (mean KQ x-diagonal, scores' scale)", "mu_h (OV y entry)"]):
            ax.set_xscale("log")
            ax.set_xlabel("training step (log scale)")
            ax.set_ylabel(name)
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{run.name}: omega and mu over training")
        paths.append(save_figure(fig, out / f"omega_mu_{run.name}.png"))
    return paths


def softmax_vs_linear(runs, out):
    """needs the h2 and linear_h2 runs"""
    if not all(name in runs and runs[name].dump for name in ("h2", "linear_h2")):
        return []
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for name, label in [("h2", "softmax attention, H = 2"), ("linear_h2", "linear attention scaled 1/L_train, H = 2"),
                        ("linear_by_length_h2", "linear attention scaled 1/L at the evaluated L, H = 2")]:
        if name not in runs or not runs[name].dump:
            continue
        table = runs[name].by_length()
        ax.plot(table["prompt_length"], table["model"], marker="o", label=label)
    table = runs["h2"].by_length()
    ax.plot(table["prompt_length"], table["debiased_gd"], "k--", label="debiased GD (step fitted per L')")
    ax.plot(table["prompt_length"], table["ridge"], "k:", label="ridge (Bayes optimal)")
    length_axes(ax)
    ax.set_yscale("log")
    ax.set_title("Length generalisation: softmax vs linear attention", fontsize=10)
    ax.legend(fontsize=8)
    return [save_figure(fig, out / "softmax_vs_linear.png")]


def toeplitz_sigma(run):
    rho, d = run.config["task"]["rho"], run.d
    return np.array([[rho ** abs(i - j) for j in range(d)] for i in range(d)])


def toeplitz_runs(runs):
    """The Toeplitz runs with a dump: toeplitz_h2 and its other seeds (toeplitz_h2_seed1, ...)."""
    return [runs[n] for n in sorted(runs) if n.startswith("toeplitz_h2") and runs[n].dump]


def toeplitz_kq(runs, out):
    """needs the toeplitz_h2 run (or its other seeds)"""
    present = toeplitz_runs(runs)
    if not present:
        return []
    rows = []
    for run in present:
        kq = np.load(run.dump / "kq.npy")
        d = run.d
        inverse = np.linalg.inv(toeplitz_sigma(run))
        panels = [(f"{run.name} head {h}: KQ x-block / its mean diagonal",
                   kq[h, :d, :d] / np.mean(np.diag(kq[h, :d, :d]))) for h in range(kq.shape[0])]
        panels.append(("Sigma^-1 / its mean diagonal", inverse / np.mean(np.diag(inverse))))
        rows.append(panels)
    fig, axes = plt.subplots(len(rows), len(rows[0]), figsize=(3.8 * len(rows[0]), 3.6 * len(rows)), squeeze=False)
    limit = max(np.abs(p).max() for panels in rows for _, p in panels)
    for row, panels in enumerate(rows):
        for ax, (title, matrix) in zip(axes[row], panels):
            image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(title, fontsize=8)
            ax.set_xticks(range(d), [f"x{i}" for i in range(d)])
            ax.set_yticks(range(d), [f"x{i}" for i in range(d)])
    fig.colorbar(image, ax=axes, fraction=0.02)
    fig.suptitle(f"Toeplitz covariates (rho = {present[0].config['task']['rho']}): the KQ x-block against Sigma^-1")
    fig.savefig(out / "toeplitz_kq.png", dpi=120)
    plt.close(fig)
    return [out / "toeplitz_kq.png"]


def head_roles(runs, out):
    """needs a multi-task run (multitask_h3, multitask_h4)"""
    present = [runs[n] for n in ("multitask_h3", "multitask_h4") if n in runs and "mu.H0.y1" in runs[n].last()]
    if not present:
        return []
    fig, axes = plt.subplots(1, len(present), figsize=(6.5 * len(present), 4.2), squeeze=False)
    columns = [("kq_diag_first", "KQ diag\nx0-x1\n(y1 only)"), ("kq_diag_shared", "KQ diag\nx2-x3\n(both)"),
               ("kq_diag_last", "KQ diag\nx4-x5\n(y2 only)"), ("mu", "OV\ny1 -> out 1"), ("mu", "OV\ny2 -> out 2")]
    for ax, run in zip(axes[0], present):
        last = run.last()
        table = np.array([[last[f"{key}.H{h}"] for key, _ in columns[:3]] +
                          [last[f"mu.H{h}.y1"], last[f"mu.H{h}.y2"]] for h in range(run.heads)])
        scaled = table / np.abs(table).max(axis=0)  # each column on its own scale
        ax.imshow(scaled, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(table):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(scaled[i, j]) > 0.6 else "black")
        ax.set_xticks(range(len(columns)), [label for _, label in columns], fontsize=8)
        ax.set_yticks(range(run.heads), [f"head {h}" for h in range(run.heads)])
        ax.set_title(f"{run.name}: step {last['step']}, MSE {last['eval_mse']:.3f}", fontsize=9)
    fig.suptitle("Multi-task heads: KQ coordinates and OV outputs")
    return [save_figure(fig, out / "head_roles.png")]


def relative_distance(a, b):
    """|| a/|a| - b/|b| || in Frobenius norm, signs aligned: 0 when a is a positive multiple of b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return min(np.linalg.norm(a - b), np.linalg.norm(a + b))


def numbers(runs, out):
    """always written"""
    lines = ["# Key numbers of the in-context linear regression runs", ""]
    present = [(name, h) for name, h in HEAD_RUNS if name in runs and runs[name].dump]
    if present:
        lines += ["| H | MSE at L' = 40 (paper) | L' = 10 | 20 | 60 | 100 |", "|---:|---:|---:|---:|---:|---:|"]
        at = {}
        for name, h in present:
            table = runs[name].by_length()
            row = dict(zip(table["prompt_length"].astype(int), table["model"]))
            at[h] = row
            lines.append(f"| {h} | {row[40]:.4f} ({PAPER_MSE_AT_40[h]}) | {row[10]:.4f} | {row[20]:.4f} | {row[60]:.4f} | "
                         f"{row[100]:.4f} |")
        baselines = runs[present[0][0]].by_length()
        base = dict(zip(baselines["prompt_length"].astype(int), zip(baselines["ridge"], baselines["debiased_gd"])))
        lines += ["", f"Prompts per length: {int(baselines['prompts'][0])}. Ridge (Bayes optimal) at 40: {base[40][0]:.4f}; "
                      f"debiased GD with a fitted step at 40: {base[40][1]:.4f}."]
        if 1 in at and 2 in at:
            lines.append(f"H = 1 / H = 2 at L' = 40: {at[1][40] / at[2][40]:.2f}x. "
                         f"H = 2 at L' = 100 vs 40: {at[2][100]:.4f} vs {at[2][40]:.4f}.")
        lines.append("")
    for name in [n for n in ("h1", "h2", "h4", "h8", "toeplitz_h2", "linear_h2") if n in runs]:
        last = runs[name].last()
        if "omega.H0" not in last:
            continue
        H = runs[name].heads
        lines += [f"## {name} at step {last['step']}", "", "| head | omega | mu | KQ diagonal spread | largest off-diagonal / "
                  "diagonal | OV y entry / largest x entry |", "|---:|---:|---:|---:|---:|---:|"]
        for h in range(H):
            lines.append(f"| {h} | {last[f'omega.H{h}']:.4f} | {last[f'mu.H{h}']:.3f} | {last[f'kq_diag_spread.H{h}']:.3f} | "
                         f"{last[f'kq_offdiag_ratio.H{h}']:.3f} | {last[f'ov_last_ratio.H{h}']:.1f} |")
        mu0 = last["mu.H0"]
        lines += ["", f"Sum of mu: {last['mu_sum']:.4f} ({abs(last['mu_sum']) / abs(mu0):.3f} of |mu_0|). Correlation of "
                      f"the predictions with debiased GD: {last['debiased_gd_corr']:.4f}. Evaluation MSE: {last['eval_mse']:.4f}.", ""]
    if "linear_h2" in runs and "h2" in runs and runs["linear_h2"].dump and runs["h2"].dump:
        soft, lin = runs["h2"].by_length(), runs["linear_h2"].by_length()
        by_length = runs["linear_by_length_h2"].by_length()["model"] if "linear_by_length_h2" in runs and \
            runs["linear_by_length_h2"].dump else [float("nan")] * len(lin["model"])
        lines += ["## Softmax vs linear attention (H = 2)", "",
                  "| L' | softmax | linear, scaled 1/L_train | linear, scaled 1/L |", "|---:|---:|---:|---:|"]
        for length, s, l, b in zip(soft["prompt_length"].astype(int), soft["model"], lin["model"], by_length):
            lines.append(f"| {length} | {s:.4f} | {l:.4f} | {b:.4f} |")
        lines.append("")
    for name in ("multitask_h3", "multitask_h4"):
        if name not in runs or "mu.H0.y1" not in runs[name].last():
            continue
        last = runs[name].last()
        lines += [f"## {name} at step {last['step']}: MSE {last['eval_mse']:.4f} (y1 {last['eval_mse.y1']:.4f}, "
                  f"y2 {last['eval_mse.y2']:.4f}); debiased GD on all of x {last['baseline_mse.debiased_gd']:.4f}", "",
                  "| head | KQ diag x0-x1 (y1 only) | x2-x3 (both) | x4-x5 (y2 only) | OV y1 -> out 1 | OV y2 -> out 2 |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for h in range(runs[name].heads):
            lines.append(f"| {h} | {last[f'kq_diag_first.H{h}']:.3f} | {last[f'kq_diag_shared.H{h}']:.3f} | "
                         f"{last[f'kq_diag_last.H{h}']:.3f} | {last[f'mu.H{h}.y1']:.3f} | {last[f'mu.H{h}.y2']:.3f} |")
        lines.append("")
    for run in toeplitz_runs(runs):
        kq = np.load(run.dump / "kq.npy")
        d = run.d
        inverse = np.linalg.inv(toeplitz_sigma(run))
        last = run.last()
        lines += [f"## Toeplitz covariates (H = 2), {run.name}: MSE {last['eval_mse']:.4f}", "",
                  "| head | omega | mu | distance of the KQ x-block to I | to Sigma^-1 |", "|---:|---:|---:|---:|---:|"]
        for h in range(kq.shape[0]):
            block = kq[h, :d, :d]
            lines.append(f"| {h} | {last[f'omega.H{h}']:.3f} | {last[f'mu.H{h}']:.3f} | "
                         f"{relative_distance(block, np.eye(d)):.3f} | {relative_distance(block, inverse):.3f} |")
        lines += ["", "(Frobenius distance between the matrices scaled to unit norm, sign aligned: 0 = proportional.)", ""]
    path = out / "numbers.md"
    path.write_text("\n".join(lines) + "\n")
    return [path]


FIGURES = {"mse_vs_length": mse_vs_length, "circuits": circuits, "omega_mu": omega_mu,
           "softmax_vs_linear": softmax_vs_linear, "toeplitz_kq": toeplitz_kq, "head_roles": head_roles,
           "numbers": numbers}


if __name__ == "__main__":
    study_figures.main(__doc__, "icl_linreg.py", FIGURES, Run, role)
