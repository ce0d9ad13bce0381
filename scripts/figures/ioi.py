#!/usr/bin/python3
"""Tables and figures of the IOI study (docs/studies/ioi.md) from its runs and their analyses.

    scripts/figures/ioi.py STUDY_DIR [--out DIR]

STUDY_DIR holds the runs of scripts/reproduce/ioi.sh (one folder per shape, its seeds as replicas, each with the
`mechlab analyze` results of its shape's spec under analysis/). Writes to STUDY_DIR/figures (or --out):

    symbolic.md           how often each shape solves the task; the roles of the 1 x 2 heads; the paths through
                          which 2 x 1 composes
    roles_1layer_2heads.png  every 1 x 2 head's direct attribution onto u_IO against u_S
"""
import argparse
import collections
import json
import pathlib

import numpy as np

from study_figures import fail, plt, save_figure

SOLVED = 1.0       # the symbolic preset: every one of the 60 sequences right
SMALL = 0.2        # a part of a head's write is negligible below this share of the larger one
SILENT = 1.0       # a head writing less than this onto either name (logit units) is silent
PATHS = {"into_q": "queries", "into_k": "keys", "into_v": "values", "into_logits": "logits (direct)"}


def replica_summaries(run):
    replicas = sorted(run.glob("replica_*"), key=lambda p: int(p.name.split("_")[1]))
    return [json.loads((p / "summary.json").read_text()) for p in replicas]


def array(run, analysis, name):
    path = run / "analysis" / analysis / f"{name}.npy"
    if not path.exists():
        fail(f"{path} is missing; run `mechlab analyze {run} configs/ioi/<its spec>.json` first (scripts/reproduce/ioi.sh)")
    return np.load(path)


def role_of(to_io, to_s, diff):
    """A head's role from what it writes onto IO's and S's unembedding (direct attribution, logit units):
    additive (both names alike: A + B), an IO writer (IO alone), contrastive (S lowered, and by more than IO:
    A - B), silent, or mixed."""
    largest = max(abs(to_io), abs(to_s))
    if largest < SILENT:
        return "silent"
    if to_io * to_s > 0 and abs(diff) < SMALL * largest:
        return "additive"
    if to_io > 0 and abs(to_s) < SMALL * to_io:
        return "IO writer"
    if to_s < 0 and diff > 0:
        return "contrastive"
    return "mixed"


def roles_1x2(run, out):
    to_io = array(run, "dla_io", "per_head")[:, 0]
    to_s = array(run, "dla_s", "per_head")[:, 0]
    diff = array(run, "dla", "per_head")[:, 0]
    alone = array(run, "each_head_mean", "metric")[:, 0]
    both = array(run, "both_heads_mean", "metric").ravel()
    roles = [[role_of(to_io[r, h], to_s[r, h], diff[r, h]) for h in range(2)] for r in range(len(to_io))]
    pairs = collections.Counter(" + ".join(sorted(r)) for r in roles)
    lines = ["## 1 layer x 2 heads: the heads' roles", "",
             f"{len(roles)} seeds. Each head's direct attribution at END onto u_IO, u_S and u_IO - u_S (`mechlab analyze "
             "RUN configs/ioi/roles_1layer_2heads.json`); a head is *additive* when it writes both names alike "
             f"(|IO - S| < {SMALL} of the larger), an *IO writer* when it raises IO and S gets less than {SMALL} of that, "
             f"*contrastive* when it lowers S by more than IO, *silent* below {SILENT} logit on either.", "",
             "| the two heads | seeds |", "|---|---:|"]
    lines += [f"| {pair} | {n} |" for pair, n in pairs.most_common()]
    per_head = collections.Counter(role for r in roles for role in r)
    lines += ["", "Heads by role: " + ", ".join(f"{role} {n}" for role, n in per_head.most_common()) + ".", "",
              "Mean-ablating (over ABC prompts) on the 60 sequences, accuracy: both heads together "
              f"{both.mean():.3f} ({both.min():.3f} - {both.max():.3f}); one head alone, the other kept: "
              f"{alone.mean():.3f} ({alone.min():.3f} - {alone.max():.3f}).", ""]
    for role in ("additive", "contrastive", "IO writer"):
        picked = [(to_io[r, h], to_s[r, h], alone[r, h]) for r in range(len(roles)) for h in range(2) if roles[r][h] == role]
        if picked:
            io_, s_, a_ = (np.array(x) for x in zip(*picked))
            lines.append(f"- {role} heads ({len(picked)}): onto u_IO {np.median(io_):+.1f}, onto u_S {np.median(s_):+.1f} "
                         f"(medians); accuracy with this head mean-ablated {np.median(a_):.3f}")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    colours = {"additive": "tab:blue", "contrastive": "tab:red", "IO writer": "tab:green", "silent": "grey", "mixed": "tab:orange"}
    for role, colour in colours.items():
        points = [(to_io[r, h], to_s[r, h]) for r in range(len(roles)) for h in range(2) if roles[r][h] == role]
        if points:
            ax.scatter(*zip(*points), s=14, color=colour, label=f"{role} ({len(points)})")
    limit = np.abs(np.concatenate([to_io.ravel(), to_s.ravel()])).max() * 1.05
    ax.plot([-limit, limit], [-limit, limit], color="k", lw=0.5, ls=":")
    ax.plot([-limit, limit], [limit, -limit], color="k", lw=0.5, ls=":")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("direct attribution onto u_IO (A)")
    ax.set_ylabel("direct attribution onto u_S (B)")
    ax.set_title(f"1 layer x 2 heads, symbolic IOI: {len(roles)} seeds x 2 heads", fontsize=9)
    ax.legend(fontsize=7)
    return lines + [""], [save_figure(fig, out / "roles_1layer_2heads.png")]


def composition_2x1(run):
    baseline = json.loads((run / "analysis" / "into_q" / "table.json").read_text())["baseline"]
    clean, corrupted = np.array(baseline["clean"]), np.array(baseline["corrupted"])
    share = {k: (clean - array(run, k, "metric").ravel()) / (clean - corrupted) for k in PATHS}
    main = collections.Counter(max(("into_q", "into_k", "into_v"), key=lambda k: share[k][r]) for r in range(len(clean)))
    lines = ["## 2 layers x 1 head: through which inputs layer 1 reads layer 0", "",
             f"{len(clean)} seeds. Path patching (`mechlab analyze RUN configs/ioi/composition_2layers_1head.json`): layer "
             "0's head taken from ABC prompts (three distinct names) into layer 1's queries, keys or values alone, or "
             "straight into the logits; the share of the logit difference lost, (clean - patched) / (clean - ABC).", "",
             "| path | share lost, median (10th - 90th percentile) | seeds losing > 0.5 | seeds where it is the largest of q, k, v |",
             "|---|---|---:|---:|"]
    for key, name in PATHS.items():
        s = share[key]
        largest = main.get(key, 0) if key != "into_logits" else "—"
        lines.append(f"| {name} | {np.median(s):.2f} ({np.percentile(s, 10):.2f} - {np.percentile(s, 90):.2f}) | "
                     f"{int(np.sum(s > 0.5))}/{len(s)} | {largest} |")
    several = int(np.sum(sum((share[k] > 0.5).astype(int) for k in ("into_q", "into_k", "into_v")) >= 2))
    lines += ["", f"Seeds in which two or three of the inputs each carry more than half: {several}/{len(clean)}. "
              f"Clean logit difference {np.median(clean):.1f} (median), ABC {np.median(corrupted):.2f}.", ""]
    return lines + subspace_lines(run)


def subspace_lines(run):
    """The subspace-patching case: each analysis of configs/ioi/subspace_2layers_1head.json, its variants'
    normalised effects (1: the clean logit difference restored into the S2-flipped run)."""
    lines = []
    for folder in sorted((run / "analysis").glob("subspace_*")):
        table = json.loads((folder / "table.json").read_text())
        method, normalised = table["method"], np.load(folder / "normalised.npy")
        if not lines:
            lines = ["## 2 layers x 1 head: a subspace patch beside its full component", "",
                     f"Denoising S2-flipped prompts along the clean-minus-corrupted mean direction (`mechlab analyze RUN "
                     f"configs/ioi/subspace_2layers_1head.json`), normalised effect over {normalised.shape[0]} seeds:", "",
                     "| hook | positions | control | variant | median (10th - 90th percentile) |", "|---|---|---|---|---|"]
        for i, variant in enumerate(method["variants"]):
            v = normalised[:, i]
            lines.append(f"| {method['hook']}{'' if method['head'] is None else ' head ' + str(method['head'])} | "
                         f"{method['positions']} | {method['control']} | {variant} | {np.median(v):.3f} "
                         f"({np.percentile(v, 10):.3f} - {np.percentile(v, 90):.3f}) |")
    return lines + [""] if lines else []


def solved_table(study):
    lines = ["## How often each shape solves the symbolic task", "", "| shape | seeds at 100% | the others |", "|---|---:|---|"]
    for run in sorted(study.glob("symbolic_*")):
        if not (run / "config.json").exists():
            continue
        accuracy = [s["accuracy"] for s in replica_summaries(run)]
        rest = sorted(a for a in accuracy if a < SOLVED)
        others = f"{len(rest)} at {min(rest):.3f} - {max(rest):.3f}" if rest else "—"
        lines.append(f"| {run.name} | {sum(a >= SOLVED for a in accuracy)}/{len(accuracy)} | {others} |")
    return lines + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    out = args.out or args.study / "figures"
    out.mkdir(parents=True, exist_ok=True)
    lines, figures = ["# IOI study: the symbolic preset", ""] + solved_table(args.study), []
    if (args.study / "symbolic_1layer_2heads").exists():
        more, figs = roles_1x2(args.study / "symbolic_1layer_2heads", out)
        lines, figures = lines + more, figures + figs
    if (args.study / "symbolic_2layers_1head").exists():
        lines += composition_2x1(args.study / "symbolic_2layers_1head")
    (out / "symbolic.md").write_text("\n".join(lines) + "\n")
    for path in [out / "symbolic.md"] + figures:
        print(path)


if __name__ == "__main__":
    main()
