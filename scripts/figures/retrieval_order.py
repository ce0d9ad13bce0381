#!/usr/bin/python3
"""Which orders of its chain a causal pair-token model can follow (docs/studies/retrieval.md): accuracy at one
query depth split by the order in which the query chain's assignments appear.

    scripts/figures/retrieval_order.py RUN_DIR [--depth K] [--mechlab build/mechlab] [--examples 4000]
                                       [--json OUT.json]

RUN_DIR is a pair-token run of one seed, or one replica of a run whose seeds are replicas
(SETTING/replica_<r>); its last checkpoint is used. The
examples are drawn here with NumPy, independently of mechlab's sampler, with the run's chains, steps, variables
and values, every query K hops deep (default: the run's D). Name the chain's assignments by their hop from the
query: hop 1 is "v_K = v_(K-1)", hop K is "v_1 = value". The script prints the accuracy over all examples, for
each pair of hops i < j the accuracy when hop i's assignment comes before hop j's and when after, and the
accuracy when each middle hop's assignment comes after both of its neighbours' and when not, and the accuracy per
full order of the K assignments (K! of them; K <= 5). In a causal model a position reads only the
positions before it, so a mechanism that needs some assignment to have read another shows up as a pair whose
two accuracies differ. NumPy only.
"""
import argparse
import itertools
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np


def examples(n, V, C, chains, steps, depth, seed=11):
    """n examples with queries `depth` hops deep: ids (n, chains * steps + 1, 2), answers, and per example the
    positions of the query chain's assignments by hop (n, depth)."""
    rng = np.random.default_rng(seed)
    T = chains * steps + 1
    ids = np.zeros((n, T, 2), np.int64)
    answers = np.zeros(n, np.int64)
    where = np.zeros((n, depth), np.int64)
    for b in range(n):
        names = rng.choice(V, chains * steps, replace=False).reshape(chains, steps)
        values = rng.integers(C, size=chains)
        query = rng.integers(chains)
        rows = [(names[c, k], V + values[c] if k == 0 else names[c, k - 1], c, k + 1)
                for c in range(chains) for k in range(steps)]
        for i, j in enumerate(rng.permutation(len(rows))):
            lhs, rhs, c, step = rows[j]
            ids[b, i] = (lhs, V + 1 + rhs)
            if c == query and step <= depth:
                where[b, depth - step] = i  # hop 1 assigns v_depth
        ids[b, -1] = (V, V + 1 + names[query, depth - 1])
        answers[b] = values[query]
    return ids, answers, where


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=pathlib.Path)
    ap.add_argument("--depth", type=int, default=0, help="query depth K (default: the run's task.steps)")
    ap.add_argument("--mechlab", default="build/mechlab")
    ap.add_argument("--examples", type=int, default=4000)
    ap.add_argument("--json", type=pathlib.Path, help="also write the table here")
    args = ap.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    task = config["task"]
    if task["layout"] != "pair_token":
        sys.exit(f"retrieval_order.py: {args.run} is a {task['layout']} run; this script reads pair-token runs")
    depth = args.depth or task["steps"]
    if not 1 <= depth <= min(task["steps"], 5):
        sys.exit(f"retrieval_order.py: --depth must be between 1 and min(task.steps, 5), got {depth}")
    checkpoints = sorted((args.run / "checkpoints").glob("step_*.safetensors"), key=lambda p: int(p.stem[5:]))
    if not checkpoints:
        sys.exit(f"retrieval_order.py: {args.run}/checkpoints holds no step_*.safetensors; train the run first")
    ids, answers, where = examples(args.examples, task["variables"], task["values"], task["chains"], task["steps"], depth)
    with tempfile.TemporaryDirectory() as tmp:
        inputs, outputs = pathlib.Path(tmp) / "ids.npy", pathlib.Path(tmp) / "logits.npy"
        np.save(inputs, ids.astype(np.int32))
        command = [args.mechlab, "forward", str(checkpoints[-1]), "--input", str(inputs), "--out", str(outputs)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        logits = np.load(outputs)
    right = logits[:, -1, :].argmax(-1) == answers
    table = {"run": str(args.run), "step": int(checkpoints[-1].stem[5:]), "depth": depth, "examples": len(right),
             "accuracy": float(right.mean()), "pairs": [], "orders": []}
    print(f"{args.run} (step {table['step']}), queries {depth} hops deep, {len(right)} examples: "
          f"accuracy {right.mean():.3f}")
    print("hop i before hop j: accuracy when before / when after (hop 1 is the query's own assignment)")
    for i, j in itertools.combinations(range(depth), 2):
        before = where[:, i] < where[:, j]
        row = {"i": i + 1, "j": j + 1, "before": float(right[before].mean()), "after": float(right[~before].mean())}
        table["pairs"].append(row)
        print(f"  hop {i + 1} before hop {j + 1}: {row['before']:.3f} / {row['after']:.3f}")
    table["after_both_neighbours"] = []
    print("hop m's assignment after both of its neighbours' (hops m - 1 and m + 1): accuracy when so / when not")
    for m in range(1, depth - 1):
        after = (where[:, m] > where[:, m - 1]) & (where[:, m] > where[:, m + 1])
        row = {"hop": m + 1, "share": float(after.mean()), "when": float(right[after].mean()),
               "otherwise": float(right[~after].mean())}
        table["after_both_neighbours"].append(row)
        print(f"  hop {m + 1}: {row['when']:.3f} / {row['otherwise']:.3f} ({row['share']:.0%} of the examples)")
    print("accuracy per order of the chain's assignments (hops listed first to last in the sequence):")
    order_of = np.argsort(where, axis=1) + 1
    for order in sorted(set(map(tuple, order_of)), key=lambda o: -right[(order_of == o).all(1)].mean()):
        chosen = (order_of == order).all(1)
        table["orders"].append({"order": list(map(int, order)), "count": int(chosen.sum()),
                                "accuracy": float(right[chosen].mean())})
        print(f"  {' '.join(map(str, order))}: {right[chosen].mean():.3f} ({chosen.sum()})")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
