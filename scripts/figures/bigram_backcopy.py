#!/usr/bin/python3
"""Figures of the Bigram-Backcopy study (Guo et al. 2024) from mechlab run directories.

    scripts/figures/bigram_backcopy.py STUDY_DIR [--out DIR] [--only FIGURE ...]

STUDY_DIR holds the runs that scripts/reproduce/bigram_backcopy.sh writes: 1layer, 3layer_adam, 3layer_sgd,
3layer_relu_attention (missing runs skip the figures that need them, saying so), or is one run directory
(e.g. results/bigram_backcopy_quick), which then plays the part its shape gives it (a 1-layer run is the
1layer run). Figures (PNG) and tables go to --out (default STUDY_DIR/figures):

    dynamics            1layer: BOS attention, ‖W_O v_<s>‖, ‖h_<s>‖ and split losses over log-scaled steps
    residual_peak       3layer_*: ‖h_<s>‖ after each layer for Adam, SGD and ReLU attention
    attention_maps      attention of the first probe sequence at the last dump, triggers marked (one PNG per run)
    ablations           split losses under each intervention at the last evaluation (PNG, CSV and Markdown)
    active_dormant      BOS attention of the probe [<s>, non-triggers..., v] per (layer, head, token v)
    numbers             numbers.md: the figures' key numbers (crossing steps, norm ratios, Adam/SGD/ReLU ratios)

Uses numpy and matplotlib only (Debian: python3-numpy python3-matplotlib). Runs that are still going are
drawn up to their last evaluation.
"""
import csv
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import study_figures  # noqa: E402  (beside this script)
from study_figures import save_figure  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
VOCAB = json.loads((REPO / "tasks/bigram_backcopy/tables.json").read_text())["vocab"] + ["<s>"]
DORMANT_CUTOFF = 0.89
VARIANTS = [("3layer_adam", "Adam", "C0"), ("3layer_sgd", "SGD", "C1"), ("3layer_relu_attention", "ReLU attention", "C2"),
            ("3layer_relu_by_length", "ReLU attention / T", "C4")]
# Guo et al.'s numbers for the paper-sized models (d_model 256, T 256), drawn as markers beside ours.
PAPER_1LAYER = {
    "bos_attn": [(1000, 0.78), (100000, 0.87)],
    "value_norm_bos": [(1000, 3.5), (10000, 1.4), (199000, 0.10)],
    "resid_norm_bos": [(10000, 72), (100000, 621), (199000, 1376)],
}
PAPER_3LAYER_RESID_L0 = {"3layer_adam": 141, "3layer_sgd": 20, "3layer_relu_attention": 24}


class Run(study_figures.StudyRun):
    """A Bigram-Backcopy run: evaluations and dumps."""

    eval_key = "eval_loss"

    def __init__(self, path):
        super().__init__(path)
        self.dumps = sorted(path.glob("dumps/step_*"))

    @property
    def paper_sized(self):
        return self.config["model"]["d_model"] == 256 and self.config["task"]["seq_len"] == 256

    @property
    def layers(self):
        return self.config["model"]["n_layers"]

    def series(self, metric):
        """Steps >= 1 (log axes) and the metric's values there."""
        points = [(r["step"], r[metric]) for r in self.evals if r["step"] >= 1 and metric in r]
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])

    def at(self, step):
        """The evaluation at `step`, or the latest one before it."""
        before = [r for r in self.evals if r["step"] <= step]
        return before[-1] if before else self.evals[0]

    def first_step(self, metric, above=None, below=None):
        """The first evaluated step where the metric is above / below a threshold (None if never)."""
        for r in self.evals:
            if metric in r and ((above is not None and r[metric] > above) or (below is not None and r[metric] < below)):
                return r["step"]
        return None

    def label(self):
        m = self.config["model"]
        return (f"{self.name}: {m['n_layers']} layer(s), d_model {m['d_model']}, T {self.config['task']['seq_len']}, "
                f"step {self.last()['step']}")


def log_axis(ax, ylabel):
    ax.set_xscale("log")
    ax.set_xlabel("training step (log scale)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def paper_markers(ax, points, color, label):
    steps, values = zip(*points)
    ax.scatter(steps, values, marker="*", s=120, color=color, edgecolor="black", zorder=5, label=label)


def bos_against_median(ax, run, metric, where, label, paper_key, ylabel, title):
    """<metric>_bos.<where> against <metric>_median.<where> on log axes, with the paper's points."""
    ax.plot(*run.series(f"{metric}_bos.{where}"), color="C0", label=label)
    ax.plot(*run.series(f"{metric}_median.{where}"), color="C7", linestyle="--", label="median over other positions")
    if run.paper_sized:
        paper_markers(ax, PAPER_1LAYER[paper_key], "C0", "paper")
    ax.set_yscale("log")
    log_axis(ax, ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def role(run):
    """The study's name for a lone run: 1layer, or the 3-layer variant its config makes it."""
    if run.layers == 1:
        return "1layer"
    if run.config["optim"]["kind"] == "sgd":
        return "3layer_sgd"
    return {"relu": "3layer_relu_attention", "relu_by_length": "3layer_relu_by_length"}.get(
        run.config["model"]["attention"], "3layer_adam")


def dynamics(runs, out):
    """needs the 1layer run"""
    run = runs.get("1layer")
    if run is None:
        return []
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    ax = axes[0, 0]
    for metric, label, color in [("bos_attn_nontrigger.L0H0", "non-trigger queries", "C0"),
                                 ("bos_attn_trigger.L0H0", "trigger queries", "C3")]:
        ax.plot(*run.series(metric), color=color, label=f"attention on <s>, {label}")
    ax.plot(*run.series("prev_attn_trigger.L0H0"), color="C3", linestyle="--", label="trigger queries on previous token")
    if run.paper_sized:
        paper_markers(ax, PAPER_1LAYER["bos_attn"], "C0", "paper, non-trigger queries")
    ax.set_ylim(-0.02, 1.02)
    log_axis(ax, "attention weight")
    ax.set_title("Attention sink forms with the copy rule")
    ax.legend(fontsize=8)

    bos_against_median(axes[0, 1], run, "value_norm", "L0H0", r"$\|W_O v_{<s>}\|$", "value_norm_bos",
                       "norm of the output-projected value (log)", "Value-state drain")
    bos_against_median(axes[1, 0], run, "resid_norm", "L0", r"$\|h_{<s>}\|$ after layer 0", "resid_norm_bos",
                       "residual-stream norm (log)", "Residual-state peak")

    ax = axes[1, 1]
    ax.plot(*run.series("loss_bigram"), color="C0", label="bigram loss")
    ax.plot(*run.series("loss_backcopy"), color="C3", label="backcopy loss")
    ax.plot(*run.series("oracle_bigram_entropy"), color="black", linestyle=":", label="oracle bigram entropy")
    log_axis(ax, "cross-entropy (nats)")
    ax.set_title("Split losses")
    ax.legend(fontsize=8)

    fig.suptitle("Bigram-Backcopy training dynamics - " + run.label())
    path = save_figure(fig, out / "dynamics.png", dpi=120)
    return [path]


def residual_peak(runs, out):
    """compares the 3layer variants when present, else draws each run"""
    present = [(key, label, color) for key, label, color in VARIANTS if key in runs]
    compared = bool(present)
    if not compared:  # a lone run, or a folder without the variants: each run's own <s> against the others
        present = [(key, run.name, f"C{i}") for i, (key, run) in enumerate(runs.items())]
    layers = runs[present[0][0]].layers
    fig, axes = plt.subplots(1, layers, figsize=(5.5 * layers, 4.5), squeeze=False)
    for layer, ax in enumerate(axes[0]):
        for key, label, color in present:
            run = runs[key]
            ax.plot(*run.series(f"resid_norm_bos.L{layer}"), color=color, label=f"{label}: <s>")
            ax.plot(*run.series(f"resid_norm_median.L{layer}"), color=color, linestyle="--", alpha=0.6,
                    label=f"{label}: median of others")
            if layer == 0 and run.paper_sized and key in PAPER_3LAYER_RESID_L0:
                paper_markers(ax, [(10000, PAPER_3LAYER_RESID_L0[key])], color, f"paper, {label}")
        ax.set_yscale("log")
        log_axis(ax, r"$\|h\|$ after layer %d (log)" % layer)
        ax.set_title(f"Residual norm after layer {layer}")
        ax.legend(fontsize=7)
    first = runs[present[0][0]]
    title = "Adam vs SGD vs ReLU attention" if compared else ", ".join(run.name for run in runs.values())
    fig.suptitle(f"Residual-state peak of <s>: {title} - {layers} layer{'s' if layers > 1 else ''}, "
                 f"d_model {first.config['model']['d_model']}, T {first.config['task']['seq_len']}")
    path = save_figure(fig, out / "residual_peak.png", dpi=120)
    return [path]


def attention_maps(runs, out, positions=40):
    """needs a run with attention dumps"""
    paths = []
    for run in runs.values():
        if not run.dumps:
            continue
        dump = next((d for d in reversed(run.dumps) if list(d.glob("*hook_pattern.npy"))), None)
        if dump is None:
            continue
        tokens = np.load(run.path / "dumps/probe_tokens.npy")[0]
        triggers = trigger_tokens(dump)
        n = min(positions, len(tokens))
        labels = [VOCAB[t].replace("\n", "\\n").replace(" ", "\u2423") for t in tokens[:n]]
        patterns = [(layer, np.load(p)) for layer in range(run.layers)
                    for p in [dump / f"blocks.{layer}.attn.hook_pattern.npy"] if p.exists()]
        heads = patterns[0][1].shape[1]
        fig, axes = plt.subplots(len(patterns), heads, figsize=(6.2 * heads, 6 * len(patterns)), squeeze=False)
        for row, (layer, pattern) in enumerate(patterns):
            for head in range(heads):
                ax = axes[row, head]
                image = ax.imshow(pattern[0, head, :n, :n], cmap="viridis", vmin=0, vmax=1)
                ax.set_xticks(range(n), labels, fontsize=6)
                ax.set_yticks(range(n), labels, fontsize=6)
                for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
                    for i, tick in enumerate(tick_labels):
                        if tokens[i] in triggers:
                            tick.set_color("red")
                            tick.set_fontweight("bold")
                ax.set_xlabel("key position (token)")
                ax.set_ylabel("query position (token); triggers in red")
                ax.set_title(f"layer {layer} head {head}")
                fig.colorbar(image, ax=ax, fraction=0.046, label="attention weight")
        fig.suptitle(f"Attention of probe sequence 0 at step {int(dump.name[5:])}\n{run.label()}")
        path = save_figure(fig, out / f"attention_maps_{run.name}.png", dpi=110)
        paths.append(path)
    return paths


def trigger_tokens(dump):
    with open(dump / "active_dormant.csv", newline="") as f:
        return {int(row["token"]) for row in csv.DictReader(f) if row["trigger"] == "1"}


def intervention_rows(run):
    """(intervention, bigram loss, backcopy loss) at the last evaluation, the unmodified model first."""
    last = run.last()
    rows = [("none", last["loss_bigram"], last["loss_backcopy"])]
    suffixes = sorted({k[len("loss_bigram."):] for k in last if k.startswith("loss_bigram.")},
                      key=lambda s: (s.split(".")[1], s))
    rows += [(s, last["loss_bigram." + s], last["loss_backcopy." + s]) for s in suffixes]
    return rows


def ablations(runs, out):
    """needs a run evaluated with task.interventions"""
    paths = []
    runs_with_interventions = [r for r in runs.values() if any(k.startswith("loss_bigram.") for k in r.last())]
    if not runs_with_interventions:
        return []
    markdown = ["# Interventions at the last evaluation", ""]
    with open(out / "ablations.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "step", "intervention", "loss_bigram", "loss_backcopy"])
        for run in runs_with_interventions:
            markdown += [f"## {run.label()}", "", "| intervention | bigram loss | backcopy loss |", "|---|---:|---:|"]
            for name, bigram, backcopy in intervention_rows(run):
                writer.writerow([run.name, run.last()["step"], name, f"{bigram:.4f}", f"{backcopy:.4f}"])
                markdown.append(f"| {name} | {bigram:.4f} | {backcopy:.4f} |")
            markdown += [f"", f"Oracle bigram entropy: {run.last()['oracle_bigram_entropy']:.4f}", ""]
    (out / "ablations.md").write_text("\n".join(markdown) + "\n")
    paths += [out / "ablations.csv", out / "ablations.md"]

    fig, axes = plt.subplots(len(runs_with_interventions), 1, squeeze=False,
                             figsize=(9, 1.2 + 0.32 * sum(len(intervention_rows(r)) + 2 for r in runs_with_interventions)))
    for ax, run in zip(axes[:, 0], runs_with_interventions):
        rows = intervention_rows(run)
        base_bigram = rows[0][1]
        cells = [[name, f"{b:.4f}", f"{100 * (b / base_bigram - 1):+.2f}%", f"{c:.4f}"] for name, b, c in rows]
        table = ax.table(cellText=cells, colLabels=["zeroed", "bigram loss", "bigram change", "backcopy loss"],
                         loc="center", cellLoc="right", colLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        table.scale(1, 1.25)
        for i, (_, b, c) in enumerate(rows, start=1):  # broken rules in red
            if c > rows[0][2] + 1.0:
                table[i, 3].set_facecolor("#f4c7c3")
            if b > base_bigram * 1.01:
                table[i, 1].set_facecolor("#f4c7c3")
        ax.axis("off")
        ax.set_title(f"{run.label()}  (oracle bigram entropy {run.last()['oracle_bigram_entropy']:.4f})", fontsize=9)
    fig.suptitle("Interventions at evaluation: split losses (red: rule broken)")
    path = save_figure(fig, out / "ablations.png", dpi=120)
    return paths + [path]


def active_dormant(runs, out):
    """needs a run with dumps (active_dormant.npy)"""
    paths = []
    for run in runs.values():
        dump = next((d for d in reversed(run.dumps) if (d / "active_dormant.npy").exists()), None)
        if dump is None:
            continue
        table = np.load(dump / "active_dormant.npy")  # (L, H, V) attention on <s> from the probe's last position
        layers, heads, V = table.shape
        rows = [(l, h) for l in range(layers) for h in range(heads) if not np.isnan(table[l, h]).all()]
        values = np.array([table[l, h] for l, h in rows])
        triggers = trigger_tokens(dump)
        fig, ax = plt.subplots(figsize=(16, 1.6 + 0.55 * len(rows)))
        image = ax.imshow(values, cmap="magma", vmin=0, vmax=1, aspect="auto")
        labels = [VOCAB[v].replace("\n", "\\n").replace(" ", "\u2423") for v in range(V)]
        ax.set_xticks(range(V), labels, fontsize=8)
        for v, tick in enumerate(ax.get_xticklabels()):
            if v in triggers:
                tick.set_color("red")
                tick.set_fontweight("bold")
        ax.set_yticks(range(len(rows)), [f"L{l}H{h}" for l, h in rows])
        for r, v in zip(*np.nonzero(values < DORMANT_CUTOFF)):
            ax.text(v, r, "A", ha="center", va="center", fontsize=7, color="white")
        ax.set_xlabel("last token v of the probe [<s>, non-trigger characters..., v] (triggers in red)")
        ax.set_ylabel("layer, head")
        fig.colorbar(image, ax=ax, fraction=0.02, label="attention on <s>")
        dormant = int((values >= DORMANT_CUTOFF).sum())
        ax.set_title(f"Active (A, attention on <s> < {DORMANT_CUTOFF}) and dormant heads per token at step "
                     f"{int(dump.name[5:])}: {dormant} of {values.size} dormant\n{run.label()}", fontsize=9)
        path = save_figure(fig, out / f"active_dormant_{run.name}.png", dpi=120)
        paths.append(path)
    return paths


def numbers(runs, out):
    """always written"""
    lines = ["# Key numbers of the Bigram-Backcopy runs", ""]
    if "1layer" in runs:
        run = runs["1layer"]
        last = run.last()
        lines += [f"## {run.label()}", "",
                  "Formation (first evaluated step where):", "",
                  f"- backcopy loss < 0.5: {run.first_step('loss_backcopy', below=0.5)}",
                  f"- trigger queries put > 0.5 on the previous token: {run.first_step('prev_attn_trigger.L0H0', above=0.5)}",
                  f"- non-trigger queries put > 0.5 on <s>: {run.first_step('bos_attn_nontrigger.L0H0', above=0.5)}",
                  "", "| step | attn on <s>, non-trigger | attn on <s>, trigger | ‖W_O v_<s>‖ | median ‖W_O v‖ | ratio | "
                  "‖h_<s>‖ | median ‖h‖ | bigram | backcopy |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for step in sorted({0, 1000, 10000, 100000, last["step"]}):
            if step > last["step"]:
                continue
            r = run.at(step)
            lines.append(f"| {r['step']} | {r['bos_attn_nontrigger.L0H0']:.3f} | {r['bos_attn_trigger.L0H0']:.4f} | "
                         f"{r['value_norm_bos.L0H0']:.3f} | {r['value_norm_median.L0H0']:.3f} | "
                         f"{r['value_norm_bos.L0H0'] / r['value_norm_median.L0H0']:.3f} | {r['resid_norm_bos.L0']:.1f} | "
                         f"{r['resid_norm_median.L0']:.1f} | {r['loss_bigram']:.4f} | {r['loss_backcopy']:.4f} |")
        if "loss_bigram.zero_head.L0H0" in last:
            change = 100 * (last["loss_bigram.zero_head.L0H0"] / last["loss_bigram"] - 1)
            lines += ["", f"Head zeroed at step {last['step']}: bigram {last['loss_bigram']:.4f} -> "
                          f"{last['loss_bigram.zero_head.L0H0']:.4f} ({change:+.2f}%), backcopy {last['loss_backcopy']:.4f} -> "
                          f"{last['loss_backcopy.zero_head.L0H0']:.3f}"]
        lines.append("")
    # Extra seeds, if any, sit beside the main runs as e.g. 3layer_adam_seed1 (see the study doc).
    variants = [(key, label, sorted(n for n in runs if n == key or n.startswith(key + "_seed"))) for key, label, _ in VARIANTS]
    variants = [v for v in variants if v[2]]
    if variants:
        names = [n for _, _, group in variants for n in group]
        step = min(runs[n].last()["step"] for n in names)
        layers = runs[names[0]].layers
        lines += [f"## 3 layers: ‖h_<s>‖ (median of other positions) after each layer at step {step}", "",
                  "| optimizer / attention | run | " + " | ".join(f"layer {l}" for l in range(layers)) + " |",
                  "|---|---|" + "---:|" * layers]
        for _, label, group in variants:
            for name in group:
                r = runs[name].at(step)
                lines.append(f"| {label} | {name} | " + " | ".join(
                    f"{r[f'resid_norm_bos.L{l}']:.1f} ({r[f'resid_norm_median.L{l}']:.1f})" for l in range(layers)) + " |")
        bos_l0 = {label: [runs[n].at(step)["resid_norm_bos.L0"] for n in group] for _, label, group in variants}
        if "Adam" in bos_l0:
            for label, values in bos_l0.items():
                if label != "Adam":
                    lines.append(f"\nAdam / {label}, ‖h_<s>‖ after layer 0, runs of seed 0: "
                                 f"{bos_l0['Adam'][0] / values[0]:.2f}x; smallest over all seeds (lowest Adam run "
                                 f"/ highest {label} run): {min(bos_l0['Adam']) / max(values):.2f}x")
        lines.append("")
    path = out / "numbers.md"
    path.write_text("\n".join(lines) + "\n")
    return [path]


FIGURES = {"dynamics": dynamics, "residual_peak": residual_peak, "attention_maps": attention_maps,
           "ablations": ablations, "active_dormant": active_dormant, "numbers": numbers}


if __name__ == "__main__":
    study_figures.main(__doc__, "bigram_backcopy.py", FIGURES, Run, role)
