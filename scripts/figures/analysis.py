#!/usr/bin/env python3
"""Heatmaps of `mechlab analyze` results (docs/analysis.md): one PNG per array of each result folder.

    scripts/figures/analysis.py PATH... [--out DIR] [--array NAME ...] [--replica R]

PATH is a result folder (RUN_DIR/analysis/<name>), a folder of them (RUN_DIR/analysis, or a training step's
RUN_DIR/analysis/step_<N>), or RUN_DIR/analysis with step folders (every step is drawn). Arrays are drawn in
TransformerLens' layout: [L, T] layers by positions, [L, H] layers by heads, [L, T, H] one panel per layer
(heads by positions), circuits and rollouts one panel per head or example. Signed values use a diverging
colour map centred on 0, as TransformerLens' plots do."""
import argparse
import json
import pathlib

import numpy as np
from matplotlib.ticker import MaxNLocator

from study_figures import fail, plt, save_figure

# Axis names of the arrays whose shape does not depend on the spec (others use table.json's method.shape).
AXES = {
    "gate_gradient": "LH", "leave_one_out": "LH", "leave_one_out_change": "LH", "per_head": "LH", "copy_score": "LH",
    "per_head_source": "LHT", "per_example": "BLH", "qk": "LHDD", "ov": "LHDO", "full_ov": "LHVV",
    "rollout": "NLTT", "flow": "NTT",
}
WORDS = {"L": "layer", "H": "head", "T": "position", "B": "example", "N": "example", "D": "residual",
         "O": "output", "V": "token", "n": "entry"}
MAX_PANELS = 16


def result_folders(path):
    """The result folders at or under `path`, without batch/ (the examples analysed, not a result)."""
    if (path / "table.json").exists():
        return [path]
    found = [p.parent for p in sorted(path.glob("*/table.json")) + sorted(path.glob("step_*/*/table.json"))
             if p.parent.name != "batch"]
    if not found:
        fail(f"{path}: no analysis results (table.json) here or one or two levels down; run mechlab analyze first")
    return found


def axes_of(name, array, table):
    shape = table.get("method", {}).get("shape")
    if name in ("metric", "normalised", "change") and shape:
        letters = "".join(ch for ch in shape if ch.isalpha())
    else:
        letters = AXES.get(name, "")
    return letters if len(letters) == array.ndim else "n" * array.ndim


def colour_scale(array):
    """One scale for every panel of an array, so panels compare: diverging and centred on 0 when the values
    have both signs."""
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return {"cmap": "viridis"}
    if finite.min() < 0 < finite.max():
        limit = np.abs(finite).max()
        return {"cmap": "RdBu", "vmin": -limit, "vmax": limit}
    return {"cmap": "viridis", "vmin": finite.min(), "vmax": finite.max()}


def heatmap(ax, values, rows, cols, title, scale):
    image = ax.imshow(values, aspect="auto", interpolation="nearest", **scale)
    for axis, n in ((ax.xaxis, values.shape[1]), (ax.yaxis, values.shape[0])):
        if n <= 16:
            axis.set_ticks(range(n))
        else:
            axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(WORDS.get(rows, "index"))
    ax.set_xlabel(WORDS.get(cols, "index"))
    ax.set_title(title, fontsize=9)
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def draw(array, letters, title, path):
    if array.ndim == 0:
        return None
    if array.ndim == 1:
        fig, ax = plt.subplots(figsize=(max(6, 0.4 * array.size), 3))
        ax.bar(np.arange(array.size), array)
        ax.set_xlabel(WORDS.get(letters[0], "index"))
        ax.set_title(title, fontsize=9)
        return save_figure(fig, path)
    if array.ndim == 2:
        fig, ax = plt.subplots(figsize=(max(6, min(14, 2 + 0.25 * array.shape[1])), max(3, min(8, 1.5 + 0.5 * array.shape[0]))))
        heatmap(ax, array, letters[0], letters[1], title, colour_scale(array))
        return save_figure(fig, path)
    # 3 or more axes: one panel per leading index (two leading axes for four), the last two as a heatmap.
    if letters == "LTH":  # TransformerLens draws heads by positions
        array, letters = array.transpose(0, 2, 1), "LHT"
    lead = array.reshape(-1, *array.shape[-2:])
    names = [f"{WORDS.get(letters[0], 'index')} {i}" for i in range(array.shape[0])]
    if array.ndim == 4:
        names = [f"L{i}H{j}" if letters[:2] == "LH" else f"{letters[0]}{i} {letters[1]}{j}"
                 for i in range(array.shape[0]) for j in range(array.shape[1])]
    shown = min(len(lead), MAX_PANELS)
    scale = colour_scale(lead[:shown])
    cols = min(4, shown)
    rows = (shown + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < shown:
            heatmap(ax, lead[k], letters[-2], letters[-1], names[k], scale)
        else:
            ax.axis("off")
    more = f" (first {shown} of {len(lead)} panels)" if shown < len(lead) else ""
    fig.suptitle(title + more, fontsize=10)
    return save_figure(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("figures"))
    parser.add_argument("--array", action="append", help="only these arrays (default: all but directions)")
    parser.add_argument("--replica", type=int, default=0, help="which replica of a packed run (default 0)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for given in args.paths:
        if not given.is_dir():
            fail(f"{given}: not a folder; give an analysis result folder or RUN_DIR/analysis")
        for folder in result_folders(given):
            table = json.loads((folder / "table.json").read_text())
            replicas = table.get("replicas", 1)
            if not 0 <= args.replica < replicas:
                fail(f"--replica {args.replica}: {folder} has replicas 0..{replicas - 1}")
            step = folder.parent.name if folder.parent.name.startswith("step_") else ""
            label = folder.name + (f".{step}" if step else "")
            method = table.get("method", {})
            for file in sorted(folder.glob("*.npy")):
                name = file.stem
                if (args.array and name not in args.array) or (not args.array and name == "directions"):
                    continue
                array = np.load(file)
                if replicas > 1:
                    array = array[args.replica]
                letters = axes_of(name, array, table)
                what = " ".join(filter(None, (method.get("kind"), method.get("family"), method.get("metric"))))
                title = f"{label}: {name}\n{what}, step {table.get('made', {}).get('step', '?')}"
                if draw(array, letters, title, args.out / f"{label}.{name}.png"):
                    drawn += 1
                    print(args.out / f"{label}.{name}.png")
    if drawn == 0:
        fail("no array drawn; check --array against the .npy files of the results")


if __name__ == "__main__":
    main()
