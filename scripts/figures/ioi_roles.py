#!/usr/bin/python3
"""The seed study of IOI runs (docs/studies/ioi.md): training curves, role scores per head, how often each role
appears over the seeds and where, and each seed's circuit from ioi_circuits.py.

    scripts/figures/ioi_roles.py RUN_DIR [RUN_DIR ...] [--name NAME] [--out DIR]

Each RUN_DIR is an ioi run whose seeds are replicas (its metrics.jsonl hold the attn_<role> scores of every head
at every evaluation). Writes to DIR (default the first run's parent/figures):

    training_<run>.png      accuracy and logit difference over training, every seed
    role_scores_<run>.png   each role score per layer and head at the end, mean over the seeds and seed 0
    role_scores_<run>.md    every head's role scores and direct attribution in every seed, at the end
    role_frequency_NAME.png per run and role, the share of seeds with a head in that role, by layer
    roles_NAME.md           the same as a table, with the step at which each role first appears (median)
    circuit_<run>.png       where ioi_circuits.py has written circuits_<run>.json: each seed's circuit as a
                            diagram, heads by layer, roles coloured, S2-flip path-patching effects as edges
    path_patching_<run>.png each seed's S2-flip paths from each head to the logits (from the same file)
"""
import argparse
import json
import pathlib

import numpy as np

from study_figures import fail, plt, save_figure

ATTENDS = 0.5
SCORES = {"attn_s2_s1": "duplicate-token (S2 -> S1)", "attn_s2_s1p1": "induction (S2 -> S1+1)",
          "attn_s1p1_s1": "previous-token (S1+1 -> S1)", "attn_end_s2": "S-inhibition (END -> S2)",
          "attn_end_io": "name mover (END -> IO)", "attn_end_s": "END -> S"}
NAME_MOVER, NEGATIVE_NAME_MOVER = "name mover (END -> IO, DLA > 0)", "negative name mover (END -> IO, DLA < 0)"
ROLE_KEYS = {title: key for key, title in SCORES.items()} | {NAME_MOVER: "attn_end_io", NEGATIVE_NAME_MOVER: "attn_end_io"}
ROLE_COLOURS = {"name mover": "tab:green", "negative name mover": "tab:olive", "duplicate-token": "tab:blue",
                "induction": "tab:purple", "previous-token": "tab:cyan", "S-inhibition": "tab:red"}


class Run:
    def __init__(self, path):
        self.path, self.name = path, path.name
        config = json.loads((path / "config.json").read_text())
        self.layers, self.heads = config["model"]["n_layers"], config["model"]["n_heads"]
        replicas = sorted(path.glob("replica_*"), key=lambda p: int(p.name.split("_")[1]))
        if not replicas:
            fail(f"{path} has no replica_<r> folders; the seed study needs a run of several seeds")
        self.seeds = []
        for replica in replicas:
            records = [json.loads(line) for line in (replica / "metrics.jsonl").read_text().splitlines() if line.strip()]
            evals = [r for r in records if "attn_end_io.L0H0" in r]
            if not evals:
                fail(f"{replica}/metrics.jsonl has no evaluation yet")
            self.seeds.append(evals)
        dla = path / "analysis" / "dla" / "per_head.npy"  # (R, L, H) onto IO - S, from roles_templates.json
        self.dla = np.load(dla) if dla.exists() else None

    def roles(self, seed):
        """{role title: (L, H) booleans} at the last evaluation; name movers split by the sign of their direct
        attribution where the run has one (at its last step)."""
        found = {title: self.score(seed, key) > ATTENDS for key, title in SCORES.items()}
        if self.dla is not None:
            movers = found.pop(SCORES["attn_end_io"])
            found[NAME_MOVER] = movers & (self.dla[seed] > 0)
            found[NEGATIVE_NAME_MOVER] = movers & (self.dla[seed] < 0)
        return found

    def score(self, seed, key, index=-1):
        """(L, H) of one role score at one evaluation."""
        e = self.seeds[seed][index]
        return np.array([[e[f"{key}.L{l}H{h}"] for h in range(self.heads)] for l in range(self.layers)])

    def first_step(self, seed, key):
        """The first evaluated step at which some head's score passes ATTENDS, and that head's layer."""
        for e in self.seeds[seed]:
            for l in range(self.layers):
                for h in range(self.heads):
                    if e[f"{key}.L{l}H{h}"] > ATTENDS:
                        return e["step"], l
        return None, None


def training_figure(run, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for evals in run.seeds:
        steps = [e["step"] for e in evals]
        axes[0].plot(steps, [e["accuracy"] for e in evals], lw=0.8)
        axes[1].plot(steps, [e["logit_diff"] for e in evals], lw=0.8)
    axes[0].set_ylabel("evaluation accuracy (IO above S)")
    axes[1].set_ylabel("logit difference IO - S")
    axes[0].axhline(0.5, color="k", lw=0.5, ls=":")
    for ax in axes:
        ax.set_xlabel("step")
    fig.suptitle(f"{run.name}: {len(run.seeds)} seeds", fontsize=10)
    return save_figure(fig, out / f"training_{run.name}.png")


def role_scores_figure(run, out):
    fig, axes = plt.subplots(2, len(SCORES), figsize=(2.3 * len(SCORES), 1.0 * run.layers * 2 + 1.5), squeeze=False)
    for row, (label, pick) in enumerate([("mean over seeds", None), ("seed 0", 0)]):
        for col, (key, title) in enumerate(SCORES.items()):
            grid = (np.mean([run.score(s, key) for s in range(len(run.seeds))], axis=0) if pick is None
                    else run.score(pick, key))
            ax = axes[row, col]
            ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
            for l in range(run.layers):
                for h in range(run.heads):
                    ax.text(h, l, f"{grid[l, h]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if grid[l, h] < 0.6 else "k")
            ax.set_xticks(range(run.heads), [f"H{h}" for h in range(run.heads)], fontsize=7)
            ax.set_yticks(range(run.layers), [f"L{l}" for l in range(run.layers)], fontsize=7)
            ax.set_title(f"{title}\n{label}", fontsize=7)
    return save_figure(fig, out / f"role_scores_{run.name}.png")


def role_scores_table(run, out):
    """Every head's role scores (and direct attribution) in every seed, at the last evaluation."""
    keys = list(SCORES)
    lines = [f"# {run.name}: every head's role scores at the last evaluation", "",
             "Attention from one role position to another, mean over the evaluation batch; DLA: the head's direct "
             "logit attribution onto u_IO - u_S at END (from the run's `dla` analysis).", "",
             "| seed | head | " + " | ".join(SCORES[k].replace(" (", " ").rstrip(")") for k in keys) + " | DLA |",
             "|---:|---|" + "---:|" * (len(keys) + 1)]
    for seed in range(len(run.seeds)):
        grids = {k: run.score(seed, k) for k in keys}
        for l in range(run.layers):
            for h in range(run.heads):
                dla = f"{run.dla[seed, l, h]:+.2f}" if run.dla is not None else "—"
                lines.append(f"| {seed} | L{l}H{h} | " + " | ".join(f"{grids[k][l, h]:.2f}" for k in keys) + f" | {dla} |")
    path = out / f"role_scores_{run.name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def role_table(runs):
    lines = ["# IOI runs: roles over seeds", "",
             f"A role appears in a seed when some head's score passes {ATTENDS} at the last evaluation; name movers "
             "also need a positive direct logit attribution onto IO - S (negative: a negative name mover), where the "
             "run has its `dla` analysis. Seeds: the share with the role, +- its standard error over seeds. Heads: how "
             "many heads hold the role in a seed that has it, mean (max). First step: when a head's attention score "
             "first passes the threshold.", "",
             "| run | role | seeds | by layer (seeds with the role there) | heads per seed | first step, median (range) |",
             "|---|---|---:|---|---:|---|"]
    frequency = {}
    for run in runs:
        per_seed = [run.roles(s) for s in range(len(run.seeds))]
        n = len(run.seeds)
        for title in per_seed[0]:
            grids = [found[title] for found in per_seed]
            per_layer = np.sum([g.any(axis=1) for g in grids], axis=0)
            having = [s for s, g in enumerate(grids) if g.any()]
            steps = [run.first_step(s, ROLE_KEYS[title])[0] for s in having]
            counts = [int(grids[s].sum()) for s in having]
            share = len(having) / n
            frequency[(run.name, title)] = (share, per_layer / n)
            when = f"{np.median(steps) / 1000:.2f}k ({min(steps) / 1000:.2f}k - {max(steps) / 1000:.2f}k)" if steps else "—"
            heads = f"{np.mean(counts):.1f} ({max(counts)})" if counts else "—"
            layers = ", ".join(f"L{l} {k}" for l, k in enumerate(per_layer))
            lines.append(f"| {run.name} | {title} | {len(having)}/{n} (+-{np.sqrt(share * (1 - share) / n):.2f}) | "
                         f"{layers} | {heads} | {when} |")
    return lines, frequency


def frequency_figure(runs, frequency, out, name):
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.5), squeeze=False)
    for ax, run in zip(axes[0], runs):
        titles = [title for name, title in frequency if name == run.name]
        bottom = np.zeros(len(titles))
        for l in range(run.layers):
            shares = [frequency[(run.name, title)][1][l] for title in titles]
            ax.bar(range(len(titles)), shares, bottom=bottom, label=f"layer {l}")
            bottom += shares
        totals = np.array([frequency[(run.name, title)][0] for title in titles])
        ax.errorbar(range(len(titles)), totals, yerr=np.sqrt(totals * (1 - totals) / len(run.seeds)), fmt="none",
                    ecolor="k", capsize=2, lw=0.8)
        ax.set_xticks(range(len(titles)), [t.split(" (")[0] for t in titles], rotation=35, ha="right", fontsize=7)
        ax.set_ylabel("share of seeds, by layer")
        ax.set_title(f"{run.name}: {len(run.seeds)} seeds", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Stacked: the share of seeds with the role in each layer (a seed can count in several). "
                 "Error bar: the share with it in any layer, +- its standard error.", fontsize=8)
    return save_figure(fig, out / f"role_frequency_{name}.png")


def circuit_figure(run, out):
    path = out / f"circuits_{run.name}.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text())
    columns = min(4, len(rows))
    fig, axes = plt.subplots((len(rows) + columns - 1) // columns, columns, figsize=(3.2 * columns, 2.6 * ((len(rows) + columns - 1) // columns)), squeeze=False)
    for ax, row in zip(axes.ravel(), rows):
        where = {f"L{l}H{h}": (h, l) for l in range(run.layers) for h in range(run.heads)}
        for mover, effects in row["name_mover_queries"].items():
            for sender, change in effects.items():
                if abs(change) > 0.05 * abs(row["F_M"]):
                    (x0, y0), (x1, y1) = where[sender], where[mover]
                    ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "tab:red" if change < 0 else "grey",
                                                                    "lw": 0.5 + 3 * min(1.0, abs(change) / abs(row["F_M"]))})
        for name, (x, y) in where.items():
            roles = row["roles"].get(name, [])
            member = name in row["circuit"]
            colour = ROLE_COLOURS.get(roles[0], "k") if roles else ("white" if member else "lightgrey")
            ax.scatter([x], [y], s=120 if member else 50, color=colour, zorder=3,
                       edgecolors="k" if member else "none", linewidths=1.2)
            if roles:
                ax.text(x, y + 0.25, "/".join(r.split(" ")[0] for r in roles), ha="center", fontsize=5)
        ax.set_xlim(-0.5, run.heads - 0.5)
        ax.set_ylim(-0.5, run.layers - 0.2)
        ax.set_xticks(range(run.heads), [f"H{h}" for h in range(run.heads)], fontsize=6)
        ax.set_yticks(range(run.layers), [f"L{l}" for l in range(run.layers)], fontsize=6)
        ax.set_title(f"seed {row['seed']}: acc {row['accuracy']:.2f}, faithfulness {row['faithfulness']:.2f}", fontsize=7)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    fig.suptitle(f"{run.name}: circuits (ringed: in the circuit; colour: role; arrows: S2-flip into a name mover's "
                 "queries moving LD by > 5% of F(M), red lowers it)", fontsize=8)
    return save_figure(fig, out / f"circuit_{run.name}.png")


def path_patching_figure(run, out):
    """Per seed of circuits_<run>.json: each head's S2-flip path to the logits, as a share of F(M), on the grid of
    layers and heads."""
    path = out / f"circuits_{run.name}.json"
    if not path.exists():
        return None
    rows = [row for row in json.loads(path.read_text()) if "to_logits" in row]
    if not rows:
        return None
    columns = min(4, len(rows))
    lines = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(2.6 * columns, 0.5 * run.layers * lines + 1.2 * lines), squeeze=False)
    for ax, row in zip(axes.ravel(), rows):
        grid = np.array([[row["to_logits"][f"L{l}H{h}"] / row["F_M"] for h in range(run.heads)] for l in range(run.layers)])
        ax.imshow(grid, vmin=-1, vmax=1, cmap="RdBu")
        for l in range(run.layers):
            for h in range(run.heads):
                ax.text(h, l, f"{grid[l, h]:+.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(range(run.heads), [f"H{h}" for h in range(run.heads)], fontsize=6)
        ax.set_yticks(range(run.layers), [f"L{l}" for l in range(run.layers)], fontsize=6)
        ax.set_title(f"seed {row['seed']}", fontsize=7)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    fig.suptitle(f"{run.name}: each head's S2-flip path to the logits, change in logit difference / F(M)", fontsize=8)
    return save_figure(fig, out / f"path_patching_{run.name}.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=pathlib.Path, nargs="+")
    parser.add_argument("--name", default="all", help="names the table and the frequency figure of these runs")
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    runs = [Run(p) for p in args.runs]
    out = args.out or args.runs[0].parent / "figures"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for run in runs:
        written += [training_figure(run, out), role_scores_figure(run, out), role_scores_table(run, out),
                    circuit_figure(run, out), path_patching_figure(run, out)]
    lines, frequency = role_table(runs)
    (out / f"roles_{args.name}.md").write_text("\n".join(lines) + "\n")
    written += [out / f"roles_{args.name}.md", frequency_figure(runs, frequency, out, args.name)]
    for path in written:
        if path:
            print(path)


if __name__ == "__main__":
    main()
