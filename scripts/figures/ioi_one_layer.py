#!/usr/bin/python3
"""Where a one-layer attention-only model of the symbolic IOI task keeps its answer (docs/studies/ioi.md).

    scripts/figures/ioi_one_layer.py RUN_DIR [--json OUT.json]

RUN_DIR is a run of the symbolic preset (configs/ioi/symbolic_1layer_*.json) whose seeds are replicas; each
replica's last checkpoint is read and the model run here in NumPy on the 60 sequences (its logit difference is
checked against the run's own summary). Then the three name positions' inputs are edited where one part of the
model reads them, one edit at a time, and the accuracy (IO's logit above S's at END) measured again:

    keys without names      the keys see each name position's position embedding and the mean name embedding
    keys without positions  the keys see the name and the mean of the three positions' embeddings
    values without names    the values: the position and the mean name
    values without positions
    even attention          every head at END spreads its attention evenly over the three name positions

A solution that survives an edit does not need what the edit removed. Seeds are grouped by their accuracy
(solved: 100%). NumPy only.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

from checkpoints import load_checkpoint

NAMES = range(2, 8)  # the symbolic vocabulary: <s>, <mid>, six names
NAME_POSITIONS = [1, 2, 3]
END = 4


def prompts():
    """The 60 sequences <s> A B B <mid> and <s> B A B <mid> (IO = A, S = B), with IO and S."""
    tokens, io, s = [], [], []
    for a in NAMES:
        for b in NAMES:
            if a != b:
                tokens += [[0, a, b, b, 1], [0, b, a, b, 1]]
                io += [a, a]
                s += [b, b]
    return np.array(tokens), np.array(io), np.array(s)


class OneLayer:
    """An attention-only, one-layer model without LayerNorm or biases, read from a checkpoint; only END matters."""

    def __init__(self, p):
        self.W_E, self.W_pos, self.W_U = p["embed.W_E"], p["pos_embed.W_pos"], p["unembed.W_U"]
        self.W_Q, self.W_K = p["blocks.0.attn.W_Q"], p["blocks.0.attn.W_K"]
        self.W_V, self.W_O = p["blocks.0.attn.W_V"], p["blocks.0.attn.W_O"]
        self.scale = 1.0 / np.sqrt(self.W_Q.shape[2])

    def inputs(self, tokens):
        return self.W_E[tokens] + self.W_pos[: tokens.shape[1]]

    def end_logits(self, tokens, keys=None, values=None, even=False):
        """END's logits; keys / values replace the inputs those maps read (B, T, D); even: attention 1/3 each on
        the name positions."""
        x = self.inputs(tokens)
        keys = x if keys is None else keys
        values = x if values is None else values
        out = x[:, END].copy()
        for h in range(self.W_Q.shape[0]):
            if even:
                pattern = np.zeros(x.shape[:2])
                pattern[:, NAME_POSITIONS] = 1.0 / len(NAME_POSITIONS)
            else:
                scores = np.einsum("bd,de,bte,->bt", x[:, END], self.W_Q[h], keys @ self.W_K[h], self.scale)
                pattern = np.exp(scores - scores.max(1, keepdims=True))  # END sees every position
                pattern /= pattern.sum(1, keepdims=True)
            out += np.einsum("bt,btd->bd", pattern, values @ self.W_V[h] @ self.W_O[h])
        return out @ self.W_U


def edited(model, tokens, remove):
    """The inputs of the name positions with one part (the name or the position) replaced by its mean."""
    x = model.inputs(tokens)
    names = model.W_E[list(NAMES)].mean(0)
    positions = model.W_pos[NAME_POSITIONS].mean(0)
    for p in NAME_POSITIONS:
        x[:, p] = (names + model.W_pos[p]) if remove == "names" else (model.W_E[tokens[:, p]] + positions)
    return x


def measure(model, tokens, io, s):
    rows = np.arange(len(io))

    def score(logits):
        diff = logits[rows, io] - logits[rows, s]
        return float(np.mean(diff > 0)), float(np.mean(diff))

    result = {"clean": score(model.end_logits(tokens))}
    for part in ("keys", "values"):
        for remove in ("names", "positions"):
            x = edited(model, tokens, remove)
            result[f"{part} without {remove}"] = score(model.end_logits(tokens, **{part: x}))
    result["even attention"] = score(model.end_logits(tokens, even=True))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    replicas = sorted(args.run_dir.glob("replica_*"), key=lambda p: int(p.name.split("_")[1]))
    if not replicas:
        sys.exit(f"ioi_one_layer.py: {args.run_dir} has no replica_<r> folders; pass a run of several seeds")
    tokens, io, s = prompts()
    seeds, worst = [], 0.0
    for replica in replicas:
        checkpoint = sorted((replica / "checkpoints").glob("step_*.safetensors"))[-1]
        result = measure(OneLayer(load_checkpoint(checkpoint)), tokens, io, s)
        logged = json.loads((replica / "summary.json").read_text())["logit_diff"]
        worst = max(worst, abs(result["clean"][1] - logged) / max(1.0, abs(logged)))
        seeds.append(result)
    if worst > 1e-3:
        sys.exit(f"ioi_one_layer.py: the NumPy forward pass differs from the run's logit difference by {worst:.2g} "
                 "(relative); this script reads attention-only one-layer models without LayerNorm or biases")
    print(f"{args.run_dir.name}: {len(seeds)} seeds; NumPy logit difference within {worst:.1e} (relative) of the runs'")
    groups = {"solved": [r for r in seeds if r["clean"][0] == 1.0], "not solved": [r for r in seeds if r["clean"][0] < 1.0]}
    print("accuracy after each edit, mean (min - max) over the seeds of each group:")
    for name, group in groups.items():
        if not group:
            continue
        print(f"  {name} ({len(group)} seeds)")
        for key in group[0]:
            acc = [r[key][0] for r in group]
            diff = [r[key][1] for r in group]
            print(f"    {key:24s} {np.mean(acc):.3f} ({min(acc):.3f} - {max(acc):.3f}), logit difference {np.mean(diff):+.2f}")
    if args.json:
        args.json.write_text(json.dumps(seeds, indent=1) + "\n")


if __name__ == "__main__":
    main()
