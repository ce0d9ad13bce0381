#!/usr/bin/python3
"""Figures and tables of the retrieval study (Musat 2025) from mechlab run directories.

    scripts/figures/retrieval.py STUDY_DIR [--out DIR] [--only FIGURE ...]

STUDY_DIR holds the settings scripts/reproduce/retrieval.sh trains (each a run directory whose seeds are
replicas: SETTING/replica_<r>/metrics.jsonl), or is one such run directory. Outputs go to --out (default
STUDY_DIR/figures):

    emergence     emergence.md and emergence.json: per setting and seed, the step at which each depth's
                  accuracy passes 90% and each head's score passes 0.5, whether the staircase is strict and
                  which head emerged with each rise; the evaluation loss's plateaus; final accuracy per depth
                  (mean and range over seeds); with the dense target also per assignment depth, and the
                  assignment depth solved per seed at a quarter, half and three quarters of the run and at its end
    staircase     accuracy per depth over training with every head's score, one panel per seed
    order         the emergence order of heads against the depths' rises, every seed
    success_map   layers x depth: the fraction of seeds that solve every depth, with the bound t >= log_3(2D)
    depth_law     triple-token dense runs: the assignment depth solved (the dense target's accuracy at every
                  depth up to it >= 90%, metrics assignment_accuracy.depth<k>) against layers, each run's
                  steps under its layer count
    depth_curves  the same runs through training: accuracy at each assignment depth, one panel per layer count
                  (the mean over seeds, and each seed faintly)
    attention     the stacked heads of a pair-token run following one chain (last dump, probe example with the
                  deepest query)

A head's score is its largest hop score (the query's attention on hop j's assignment, metrics hop<j>.L<l>H<h>)
or pointer score (each assignment's attention on the assignment its right side names, pointer.L<l>H<h>).
Uses numpy and matplotlib only (Debian: python3-numpy python3-matplotlib).
"""
import json
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import study_figures  # noqa: E402  (beside this script)
from study_figures import fail, save_figure as save  # noqa: E402

SOLVED = 0.9  # a depth is solved when its accuracy reaches this
EMERGED = 0.5  # a head has emerged when its score reaches this
RISE = 0.2  # a hop or pointer score rises with a depth when it gains this between that depth's rise and the last
FLAT = 0.03  # a loss plateau: 3+ evaluations within this share of the run's whole loss drop of each other
DEPTHS = {"uniform": "uniform depths (curriculum)", "fixed": "fixed depth D",
          "schedule": "depths by stage (task.depth_schedule)"}  # the training queries, as emergence.md names them
SCORE = re.compile(r"^(hop(\d+)|pointer)\.L(\d+)H(\d+)$")


class Seed:
    """One replica: its evaluations (steps, accuracy per depth, head scores)."""

    def __init__(self, path, depth):
        records = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line.strip()]
        # An evaluation record: it has the evaluation loss (a small evaluation batch can miss a depth's key).
        evals = [r for r in records if "eval_loss" in r]
        if not evals:
            fail(f"{path}/metrics.jsonl has no evaluation yet; wait for the run's first evaluation")
        self.path = path
        self.steps = np.array([r["step"] for r in evals])
        self.loss = np.array([r["eval_loss"] for r in evals])
        self.accuracy = {k: np.array([r.get(f"accuracy.depth{k}", np.nan) for r in evals]) for k in range(1, depth + 1)}
        # With the dense target: the accuracy at the assignments of each depth (v_k, k hops from its value).
        self.assignment = {k: np.array([r.get(f"assignment_accuracy.depth{k}", np.nan) for r in evals])
                           for k in range(1, depth + 1)} if any(k.startswith("assignment_accuracy.") for k in evals[-1]) else None
        heads = {}
        for key in evals[-1]:
            m = SCORE.match(key)
            if m:
                heads.setdefault((int(m.group(3)), int(m.group(4))), []).append(key)
        self.raw = {k: np.array([r.get(k, 0.0) for r in evals]) for keys in heads.values() for k in keys}
        self.score_keys = dict(sorted(heads.items()))
        self.scores = {h: np.max([self.raw[k] for k in keys], axis=0) for h, keys in self.score_keys.items()}

    def plateaus(self):
        """The evaluation loss's plateaus: maximal runs of at least three evaluations whose losses lie within a band
        of FLAT of the run's whole drop (first loss minus lowest), that end in a drop (the loss two evaluations
        later at least 1.5 bands below their mean) or at the run's end; [from step, to step, mean loss]. A slow
        steady fall is no plateau: it leaves each band without a drop."""
        band = FLAT * (self.loss[0] - self.loss.min())
        last = len(self.loss) - 1
        found, i = [], 0
        while band > 0 and i <= last:
            j = i
            while j < last and np.ptp(self.loss[i:j + 2]) <= band:
                j += 1
            level = float(self.loss[i:j + 1].mean())
            if j - i >= 2 and (j == last or self.loss[min(j + 2, last)] <= level - 1.5 * band):
                found.append([int(self.steps[i]), int(self.steps[j]), round(level, 4)])
                i = j + 1
            else:
                i += 1
        return found

    def passes(self, series, threshold):
        """The first evaluated step at which series reaches threshold, or None."""
        hit = np.nonzero(series >= threshold)[0]
        return int(self.steps[hit[0]]) if len(hit) else None

    def final(self, k):
        return float(self.accuracy[k][-1])


class Setting:
    """A run directory with its seeds as replicas."""

    def __init__(self, path):
        self.path, self.name = path, path.name
        self.config = json.loads((path / "config.json").read_text())
        task, model = self.config["task"], self.config["model"]
        self.depth, self.layers, self.layout = task["steps"], model["n_layers"], task["layout"]
        self.query_depth = task["query_depth"]  # uniform (the implicit curriculum), fixed or schedule
        self.curriculum = self.query_depth != "fixed"
        replicas = sorted(path.glob("replica_*"), key=lambda p: int(p.name.split("_")[1]))
        self.seeds = [Seed(p, self.depth) for p in replicas if (p / "metrics.jsonl").exists()]
        if not replicas and (path / "metrics.jsonl").exists():
            self.seeds = [Seed(path, self.depth)]
        self.steps_planned = self.config["train"]["steps"]

    def chance(self):
        return 1.0 / self.config["task"]["chains"]  # a model that finds the chains' values but not which one

    def solves_all(self, seed):
        return all(seed.final(k) >= SOLVED for k in range(1, self.depth + 1))

    def depth_solved(self, seed, assignments=False, at=-1):
        """The largest k with every query depth (or, with assignments, every assignment depth of the dense target)
        1..k at or above SOLVED at evaluation `at` (the last by default)."""
        series = seed.assignment if assignments else seed.accuracy
        k = 0
        while k < self.depth and float(series[k + 1][at]) >= SOLVED:
            k += 1
        return k


def load(directory):
    if (directory / "config.json").exists() and (list(directory.glob("replica_*")) or (directory / "metrics.jsonl").exists()):
        return {directory.name: Setting(directory)}
    settings = {}
    for p in sorted(directory.iterdir()):
        if p.is_dir() and (p / "config.json").exists():
            s = Setting(p)
            if s.seeds:
                settings[p.name] = s
    return settings


def head_name(head):
    return f"L{head[0]}H{head[1]}"


def emergence_of(setting, seed):
    """Depth pass steps, head emergence (step, which score), strictness, and the head that emerged with each rise."""
    depth_pass = {k: seed.passes(seed.accuracy[k], SOLVED) for k in range(1, setting.depth + 1)}
    heads = {}
    for head, series in seed.scores.items():
        step = seed.passes(series, EMERGED)
        if step is not None:
            index = int(np.nonzero(seed.steps == step)[0][0])
            keys = seed.score_keys[head]  # the score that crossed: the largest of the head's at that evaluation
            crossed = keys[int(np.argmax([seed.raw[k][index] for k in keys]))]
            heads[head_name(head)] = {"step": step, "score": crossed.split(".")[0]}
    passed = [depth_pass[k] for k in range(1, setting.depth + 1) if depth_pass[k] is not None]
    strict = all(a < b for a, b in zip(passed, passed[1:]))
    with_rise, rising, previous = {}, {}, -1
    for k in range(1, setting.depth + 1):
        step = depth_pass[k]
        if step is None:
            break
        emerged = [name for name, h in heads.items() if previous < h["step"] <= step]
        with_rise[k] = sorted(emerged, key=lambda n: heads[n]["step"])
        # The scores that gained RISE from the evaluation of the last depth's rise (step 0 for depth 1) to this one's.
        before, after = (int(np.nonzero(seed.steps == max(previous, 0))[0][0]), int(np.nonzero(seed.steps == step)[0][0]))
        gains = {key: float(v[after] - v[before]) for key, v in seed.raw.items()}
        rising[k] = {key: round(g, 2) for key, g in sorted(gains.items(), key=lambda kv: -kv[1]) if g >= RISE}
        previous = step
    return {"depth_pass": depth_pass, "heads": dict(sorted(heads.items(), key=lambda kv: kv[1]["step"])),
            "strict_staircase": strict, "heads_with_each_rise": with_rise, "scores_rising_with_each_rise": rising,
            "loss_plateaus": seed.plateaus()}


def fmt_step(step):
    return "—" if step is None else f"{step / 1000:.2f}k"


def summary_of(s):
    """A setting's emergence.json entry: final accuracies, pass steps, emergence and ablation, seed by seed."""
    rows = [emergence_of(s, seed) for seed in s.seeds]
    finals = {k: [seed.final(k) for seed in s.seeds] for k in range(1, s.depth + 1)}
    entry = {"layout": s.layout, "layers": s.layers, "depth": s.depth, "curriculum": s.curriculum,
             "steps": int(s.seeds[0].steps[-1]), "seeds": len(s.seeds),
             "seeds_solving_every_depth": sum(s.solves_all(seed) for seed in s.seeds), "final_accuracy": finals,
             "seeds_below_twice_chance": {k: sum(f < 2 * s.chance() for f in finals[k]) for k in finals},
             "depth_solved": [s.depth_solved(seed) for seed in s.seeds], "per_seed": rows}
    if all(seed.assignment is not None for seed in s.seeds):
        entry["final_assignment_accuracy"] = {k: [float(seed.assignment[k][-1]) for seed in s.seeds]
                                              for k in range(1, s.depth + 1)}
        entry["assignment_depth_solved"] = [s.depth_solved(seed, assignments=True) for seed in s.seeds]
        entry["assignment_depth_pass"] = {k: [seed.passes(seed.assignment[k], SOLVED) for seed in s.seeds]
                                          for k in range(1, s.depth + 1)}
        entry["assignment_depth_solved_through_training"] = solved_through_training(s)
    ablation = last_head_ablation(s, rows)
    if ablation:
        entry["last_head_ablation"] = ablation
    return entry


def solved_through_training(s):
    """{step: assignment depth solved per seed} at the evaluations a quarter, half and three quarters of the way
    through the run (the seeds' common ones), and at its end: how the depth a model solves grew."""
    steps = s.seeds[0].steps
    if any(len(seed.steps) != len(steps) for seed in s.seeds):
        return {}
    picks = sorted({int(np.searchsorted(steps, steps[-1] * q)) for q in (0.25, 0.5, 0.75)} | {len(steps) - 1})
    return {int(steps[i]): [s.depth_solved(seed, assignments=True, at=i) for seed in s.seeds] for i in picks}


def markdown_of(name, s, entry):
    """The lines of one setting in emergence.md."""
    rows, finals = entry["per_seed"], entry["final_accuracy"]
    lines = [f"## {name}", "",
             f"{s.layout}, {s.layers} layer(s), D = {s.depth}, "
             f"{DEPTHS[s.query_depth]}, {entry['steps']} steps, "
             f"{entry['seeds']} seeds; {entry['seeds_solving_every_depth']} solve every depth.", "",
             "| depth | final accuracy, mean (min - max) | seeds < 2x chance | median step passing 90% |",
             "|---:|---|---:|---:|"]
    for k in range(1, s.depth + 1):
        steps = [r["depth_pass"][k] for r in rows if r["depth_pass"][k] is not None]
        median = fmt_step(int(np.median(steps))) + f" ({len(steps)}/{len(rows)})" if steps else "—"
        lines.append(f"| {k} | {np.mean(finals[k]):.3f} ({min(finals[k]):.3f} - {max(finals[k]):.3f}) | "
                     f"{entry['seeds_below_twice_chance'][k]}/{len(rows)} | {median} |")
    if "final_assignment_accuracy" in entry:
        dense = entry["final_assignment_accuracy"]
        lines += ["", "Dense target, accuracy at the assignments of each depth (v_k, k hops from its value), mean "
                  "(min - max): " + "; ".join(f"{k}: {np.mean(dense[k]):.3f} ({min(dense[k]):.2f} - {max(dense[k]):.2f})"
                                              for k in range(1, s.depth + 1)) + ". Assignment depth solved per seed: "
                  + ", ".join(str(d) for d in entry["assignment_depth_solved"]) + "."]
        passing = []
        for k, steps in entry["assignment_depth_pass"].items():
            reached = [step for step in steps if step is not None]
            if reached:
                passing.append(f"{k}: {fmt_step(int(np.median(reached)))} ({len(reached)}/{len(steps)})")
        lines += ["", "Median step at which assignment depth k passes 90% (seeds that reach it): " + "; ".join(passing) + "."]
        growth = entry["assignment_depth_solved_through_training"]
        if growth:
            lines += ["", "Assignment depth solved per seed through training: " + "; ".join(
                f"at {fmt_step(step)}, {', '.join(map(str, solved))} (median {np.median(solved):g})"
                for step, solved in growth.items()) + "."]
    if any(r["heads"] for r in rows):
        lines += ["", f"Heads emerging: a head's first evaluation with a score >= {EMERGED}. Scores rising with a depth: "
                  f"those that gained >= {RISE} from the evaluation at which the previous depth passed 90% (step 0 for "
                  "depth 1) to the one at which this depth did.", "",
                  "| seed | steps passing 90%, depth 1, 2, ... | strict | heads emerging (step, score) | "
                  "heads emerging with each rise | scores rising with each rise |",
                  "|---:|---|:---:|---|---|---|"]
        for i, r in enumerate(rows):
            passes = ", ".join(fmt_step(r["depth_pass"][k]) for k in range(1, s.depth + 1))
            heads = ", ".join(f"{n} {fmt_step(h['step'])} {h['score']}" for n, h in r["heads"].items())
            rises = "; ".join(f"d{k}: {'+'.join(v) or 'none'}" for k, v in r["heads_with_each_rise"].items())
            scores = "; ".join(f"d{k}: " + (", ".join(f"{key} +{g:.2f}" for key, g in v.items()) or "none")
                               for k, v in r["scores_rising_with_each_rise"].items())
            lines.append(f"| {i} | {passes} | {'yes' if r['strict_staircase'] else 'no'} | {heads or '—'} | "
                         f"{rises or '—'} | {scores or '—'} |")
    lines += ["", f"Loss plateaus (the evaluation loss over three or more evaluations, within {FLAT:.0%} of the run's "
              "whole loss drop of each other; from - to step, mean loss), seed by seed: " + "; ".join(
                  f"{i}: " + (", ".join(f"{fmt_step(a)} - {fmt_step(b)} at {loss:.3g}" for a, b, loss in r["loss_plateaus"])
                              or "none") for i, r in enumerate(rows)) + "."]
    if "last_head_ablation" in entry:
        lines += ["", "Mean-ablating the head that emerged last (`mechlab analyze RUN configs/retrieval/ablate_heads.json`), "
                  "accuracy per depth, unablated -> ablated:", "",
                  "| seed | head | " + " | ".join(f"depth {k}" for k in range(1, s.depth + 1)) + " |",
                  "|---:|---|" + "---|" * s.depth]
        for a in entry["last_head_ablation"]:
            cells = " | ".join(f"{a['clean'][k - 1]:.2f} -> {a['ablated'][k - 1]:.2f}" for k in range(1, s.depth + 1))
            lines.append(f"| {a['seed']} | {a['head']} | {cells} |")
    return lines + [""]


def emergence(settings, out):
    """every setting: the emergence table"""
    table = {name: summary_of(s) for name, s in settings.items()}
    lines = ["# Retrieval study: emergence and final accuracy", "",
             f"Solved: accuracy >= {SOLVED}; emerged: a head's hop or pointer score >= {EMERGED}. "
             "Chance among the chains' values: 1/chains.", ""]
    for name, s in settings.items():
        lines += markdown_of(name, s, table[name])
    (out / "emergence.json").write_text(json.dumps(table, indent=1) + "\n")
    path = out / "emergence.md"
    path.write_text("\n".join(lines) + "\n")
    return [path, out / "emergence.json"]


def last_head_ablation(setting, rows):
    """Per seed, the head that emerged last and each depth's accuracy with it mean-ablated, from the run's
    analysis/heads_depth<k> results; [] when the run has none."""
    folders = [setting.path / "analysis" / f"heads_depth{k}" for k in range(1, setting.depth + 1)]
    if not all((f / "metric.npy").exists() for f in folders):
        return []
    metric = [np.load(f / "metric.npy") for f in folders]  # (R, L, H), or (L, H) for one replica
    clean = [np.atleast_1d(json.loads((f / "table.json").read_text())["baseline"]["clean"]) for f in folders]
    result = []
    for r, row in enumerate(rows):
        if not row["heads"]:
            continue
        # The last to emerge; of heads emerging at the same evaluation, the one in the later layer, which reads the others.
        head = max(row["heads"], key=lambda n: (row["heads"][n]["step"], int(n[1:].split("H")[0])))
        l, h = (int(x) for x in head[1:].split("H"))
        ablated = [float((m[r] if m.ndim == 3 else m)[l, h]) for m in metric]
        result.append({"seed": r, "head": head, "clean": [float(c[r] if c.size > 1 else c[0]) for c in clean],
                       "ablated": ablated})
    return result


def pick(settings, layout="pair_token", layers=2, depth=4, curriculum=True):
    for s in settings.values():
        if (s.layout, s.layers, s.depth, s.curriculum) == (layout, layers, depth, curriculum):
            return s
    candidates = [s for s in settings.values() if s.layout == layout and s.curriculum]
    return max(candidates, key=lambda s: (s.layers, s.depth), default=None)


def staircase(settings, out):
    """a pair-token run with the curriculum (2 layers and D = 4 preferred, else the deepest)"""
    s = pick(settings)
    if s is None:
        return []
    n = len(s.seeds)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(4 * cols, 5 * rows), squeeze=False, sharex=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, s.depth))
    for i, seed in enumerate(s.seeds):
        top, bottom = axes[2 * (i // cols)][i % cols], axes[2 * (i // cols) + 1][i % cols]
        for k in range(1, s.depth + 1):
            top.plot(seed.steps, seed.accuracy[k], color=colors[k - 1], label=f"depth {k}")
        top.axhline(s.chance(), color="grey", lw=0.8, ls=":")
        top.axhline(SOLVED, color="grey", lw=0.8, ls="--")
        top.set_ylim(0, 1.02)
        top.set_title(f"{s.name}, seed {i}")
        for head, series in seed.scores.items():
            bottom.plot(seed.steps, series, lw=1, label=head_name(head))
        bottom.axhline(EMERGED, color="grey", lw=0.8, ls="--")
        bottom.set_ylim(0, 1.02)
        bottom.set_xlabel("step")
        if i % cols == 0:
            top.set_ylabel("accuracy")
            bottom.set_ylabel("head score")
        if i == 0:
            top.legend(fontsize=7)
            bottom.legend(fontsize=6, ncol=2)
    for j in range(n, rows * cols):
        axes[2 * (j // cols)][j % cols].axis("off")
        axes[2 * (j // cols) + 1][j % cols].axis("off")
    fig.suptitle("accuracy per query depth (top) and each head's hop/pointer score (bottom)")
    return [save(fig, out / "staircase.png")]


def order(settings, out):
    """a pair-token run with the curriculum (2 layers and D = 4 preferred, else the deepest)"""
    s = pick(settings)
    if s is None:
        return []
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(s.seeds) + 1.5))
    names = sorted({head_name(h) for seed in s.seeds for h in seed.scores})
    marker = dict(zip(names, "osD^v<>phX*+x.1234" * 3))
    colors = plt.cm.viridis(np.linspace(0, 0.9, s.depth))
    layer_color = plt.cm.tab10(np.arange(10))
    labelled = set()
    for i, seed in enumerate(s.seeds):
        r = emergence_of(s, seed)
        for name, h in r["heads"].items():
            layer = int(name[1:].split("H")[0])
            ax.scatter(h["step"], i, marker=marker[name], color=layer_color[layer % 10], s=36, zorder=3,
                       label=None if name in labelled else name)
            labelled.add(name)
        for k, step in r["depth_pass"].items():
            if step is not None:
                ax.plot([step, step], [i - 0.4, i + 0.4], color=colors[k - 1], lw=3, label=f"depth {k} >= 90%" if i == 0 else None)
    ax.set_yticks(range(len(s.seeds)))
    ax.set_ylabel("seed")
    ax.set_xlabel("step")
    ax.set_title(f"{s.name}: when each head's score passes {EMERGED} (markers) and each depth passes 90% (bars)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return [save(fig, out / "emergence_order.png")]


def success_map(settings, out):
    """pair-token runs with the curriculum at several layers and depths"""
    cells = {}
    for s in settings.values():
        if s.layout == "pair_token" and s.curriculum:
            frac = sum(s.solves_all(seed) for seed in s.seeds) / len(s.seeds)
            cells[(s.layers, s.depth)] = (frac, len(s.seeds), int(s.seeds[0].steps[-1]))
    layers = sorted({l for l, _ in cells})
    depths = sorted({d for _, d in cells})
    if len(layers) < 2 or len(depths) < 2:
        return []
    grid = np.full((len(layers), len(depths)), np.nan)
    fig, ax = plt.subplots(figsize=(1.1 * len(depths) + 2, 1.0 * len(layers) + 1.5))
    for (l, d), (frac, n, steps) in cells.items():
        grid[layers.index(l), depths.index(d)] = frac
        ax.text(depths.index(d), layers.index(l), f"{frac:.2f}\n{n} seeds\n{steps / 1000:g}k steps", ha="center",
                va="center", fontsize=7, color="w" if frac < 0.5 else "k")
    im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    # The bound t >= log_3(2D): with t layers, D up to floor(3^t / 2); drawn between the columns it separates.
    xs, ys = [], []
    for i, l in enumerate(layers):
        limit = 3 ** l / 2
        edge = sum(d <= limit for d in depths) - 0.5
        xs += [edge, edge]
        ys += [i - 0.5, i + 0.5]
    ax.plot(xs, ys, color="r", lw=2, label="t >= log_3(2D) holds above and left of the line")
    ax.set_xticks(range(len(depths)), [str(d) for d in depths])
    ax.set_yticks(range(len(layers)), [str(l) for l in layers])
    ax.set_xlabel("D (steps per chain)")
    ax.set_ylabel("layers")
    ax.set_title("fraction of seeds solving every depth (>= 90%)")
    ax.legend(fontsize=7, loc="upper right")
    fig.colorbar(im, ax=ax)
    return [save(fig, out / "success_map.png")]


def depth_law(settings, out):
    """triple-token runs with the dense target at several layer counts (the longest chains of each)"""
    runs = dense_runs(settings)
    if len(runs) < 2:
        return []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    medians = []
    for s in runs:
        solved = [s.depth_solved(seed, assignments=True) for seed in s.seeds]
        ax.scatter([s.layers] * len(solved), solved, color="k", alpha=0.5, label="a seed" if s is runs[0] else None)
        medians.append(float(np.median(solved)))
        ax.plot([s.layers], [medians[-1]], "r_", ms=20, mew=2, label="median" if s is runs[0] else None)
    layers = [s.layers for s in runs]
    # Lutz's shape: the depth solved at least doubles with each added layer, drawn from two layers (the acceptance's
    # 2 -> 4) where there are two
    anchor = layers.index(2) if 2 in layers else 0
    if medians[anchor] > 0:
        ax.plot(layers, [medians[anchor] * 2 ** (l - layers[anchor]) for l in layers], "b--", lw=1,
                label="doubling per layer")
    ax.scatter(layers, [s.depth for s in runs], marker="_", s=300, color="grey",
               label="each run's chain length D (the most there is to solve)")
    top = max(max(s.depth for s in runs), 1)
    ticks = sorted({0, top} | {2 ** k for k in range(int(np.log2(top)) + 1)})
    ax.set_yscale("symlog", base=2, linthresh=1)
    ax.set_yticks(ticks, [str(t) for t in ticks])
    # The runs' budgets can differ by layer count; the ticks say how long each trained.
    ax.set_xticks(layers, [f"{s.layers}\n{s.seeds[0].steps[-1] / 1000:g}k steps" for s in runs])
    ax.set_xlabel("layers")
    ax.set_ylabel(f"assignment depth solved (all up to it >= {SOLVED:.0%})")
    ax.set_title("triple tokens, dense target, rotary positions", fontsize=10)
    ax.legend(fontsize=7)
    return [save(fig, out / "depth_law.png")]


def dense_runs(settings):
    """per layer count, the dense triple-token run at the longest chains it has, in order of layers (its runs of
    shorter chains, which answer how many layers those need, stay in emergence.md)"""
    by_layers = {}
    for s in settings.values():
        if s.layout == "triple_tokens" and all(seed.assignment is not None for seed in s.seeds):
            if s.layers not in by_layers or s.depth > by_layers[s.layers].depth:
                by_layers[s.layers] = s
    return [by_layers[layers] for layers in sorted(by_layers)]


def depth_curves(settings, out):
    """triple-token runs with the dense target: accuracy at each assignment depth through training"""
    runs = dense_runs(settings)
    if not runs:
        return []
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.6), sharey=True, squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(s.depth for s in runs)))
    for ax, s in zip(axes[0], runs):
        for k in range(1, s.depth + 1):
            curves = np.array([seed.assignment[k] for seed in s.seeds if len(seed.steps) == len(s.seeds[0].steps)])
            for seed in s.seeds:
                ax.plot(seed.steps / 1000, seed.assignment[k], color=colors[k - 1], lw=0.5, alpha=0.25)
            ax.plot(s.seeds[0].steps / 1000, curves.mean(axis=0), color=colors[k - 1], lw=1.5, label=f"depth {k}")
        ax.axhline(SOLVED, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{s.layers} layers, D = {s.depth}, {len(s.seeds)} seeds", fontsize=10)
        ax.set_xlabel("step (thousands)")
    axes[0][0].set_ylabel("accuracy at the assignments of depth k")
    axes[0][-1].legend(fontsize=7, loc="lower right", ncol=2)
    fig.suptitle("triple tokens, dense target, rotary positions: mean over seeds (each seed faint)", fontsize=10)
    return [save(fig, out / "depth_curves.png")]


def attention(settings, out):
    """a pair-token run with the curriculum and dumps (2 layers and D = 4 preferred)"""
    s = pick(settings)
    if s is None:
        return []
    replica = s.seeds[0].path
    dumps = sorted(replica.glob("dumps/step_*"))
    probe = replica / "dumps" / "probe_tokens.npy"
    if not dumps or not probe.exists():
        return []
    task = s.config["task"]
    V, n = task["variables"], task["chains"] * task["steps"]
    x = np.load(probe)  # (B, T, 2) ids: lhs (V is '?'), V + 1 + rhs (rhs >= V: a value)
    lhs, rhs = x[:, :, 0], x[:, :, 1] - (V + 1)

    def chain(b):
        """Positions of the query's chain, hop by hop, from the query's variable to the value."""
        at, hops = rhs[b, n], []
        while at < V and len(hops) <= n:
            where = [i for i in range(n) if lhs[b, i] == at]
            if not where:
                break
            hops.append(where[0])
            at = rhs[b, where[0]]
        return hops

    b = max(range(x.shape[0]), key=lambda b: len(chain(b)))
    hops = chain(b)
    label = [f"{'?' if lhs[b, t] == V else 'v%d' % lhs[b, t]}={'v%d' % rhs[b, t] if rhs[b, t] < V else rhs[b, t] - V}"
             for t in range(n + 1)]
    patterns = [np.load(p) for p in sorted(dumps[-1].glob("blocks.*.attn.hook_pattern.npy"))]
    H = patterns[0].shape[1]
    fig, axes = plt.subplots(len(patterns), H, figsize=(3.2 * H, 3.2 * len(patterns)), squeeze=False)
    for l, p in enumerate(patterns):
        for h in range(H):
            ax = axes[l][h]
            ax.imshow(p[b, h], cmap="Blues", vmin=0, vmax=1)
            for j, pos in enumerate(hops):
                ax.add_patch(plt.Rectangle((pos - 0.5, n - 0.5), 1, 1, fill=False, color="r", lw=1.5))
                ax.text(pos, n + 1.2, str(j + 1), color="r", ha="center", fontsize=7)
            ax.set_title(f"L{l}H{h}", fontsize=9)
            ax.set_xticks(range(n + 1), label, rotation=90, fontsize=5)
            ax.set_yticks(range(n + 1), label, fontsize=5)
    fig.suptitle(f"{s.name} seed 0, {dumps[-1].name}: attention of one example (query '{label[n]}', "
                 f"{len(hops)} hops; red: hop j's assignment in the query row)")
    return [save(fig, out / "attention_maps.png")]


FIGURES = {"emergence": emergence, "staircase": staircase, "order": order, "success_map": success_map,
           "depth_law": depth_law, "depth_curves": depth_curves, "attention": attention}


def main():
    study_figures.main(__doc__, "retrieval.py", FIGURES, Setting, loader=load)


if __name__ == "__main__":
    main()
