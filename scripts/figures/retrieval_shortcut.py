#!/usr/bin/python3
"""The one-layer shortcut of the retrieval study (docs/studies/retrieval.md): how a one-layer, attention-only
model answers depth-2 queries at D = 2 better than guessing.

    scripts/figures/retrieval_shortcut.py RUN_DIR [--mechlab build/mechlab] [--examples 3000]

RUN_DIR is a one-layer pair-token run at D = 2, e.g.

    scripts/mechlab run configs/retrieval/pair_2layer.json model.n_layers=1 model.d_model=64 task.steps=2 \\
        train.batch_size=128 train.steps=4000 'seeds=[0]' outputs.dumps=none --out results/retrieval/one_layer_D2

Depth-2 examples with four distinct values are drawn here, with NumPy, independently of mechlab's sampler. The
script checks its own forward pass against `mechlab forward` on them, then prints: the accuracy (guessing among
the four values gives 0.25); with the query's hop-1 assignment pointing at an undefined variable; pointing at
another chain's first variable (the new and the old answer); without what hop 1 writes into the query; with the
redirected attention but the original hop-1 vector; and, per head, the correlation across examples between the
head's preference for the linked value assignment and its score for hop 1. NumPy only.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from checkpoints import load_checkpoint


def examples(n, V, C, chains, seed=5):
    """n depth-2 examples at D = 2 with distinct values: ids (n, 2 * chains + 1, 2), answers, and per example the
    positions of the query's hop-1 assignment, its chain's value assignment and another chain's."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, 2 * chains + 1, 2), np.int64)
    answer, hop1, own, other = (np.zeros(n, np.int64) for _ in range(4))
    for b in range(n):
        names = rng.choice(V, 2 * chains, replace=False)
        values = rng.choice(C, chains, replace=False)
        query = rng.integers(chains)
        rows = []  # (lhs, rhs, chain, step)
        for c in range(chains):
            rows.append((names[2 * c], V + values[c], c, 1))
            rows.append((names[2 * c + 1], names[2 * c], c, 2))
        order = rng.permutation(len(rows))
        for i, j in enumerate(order):
            lhs, rhs, c, step = rows[j]
            ids[b, i] = (lhs, V + 1 + rhs)
            if c == query:
                (hop1 if step == 2 else own)[b] = i
        other[b] = next(i for i, j in enumerate(order) if rows[j][3] == 1 and rows[j][2] != query)
        ids[b, -1] = (V, V + 1 + names[2 * query + 1])
        answer[b] = values[query]
    return ids, answer, hop1, own, other


def layer_norm(x, weight):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * weight


class OneLayer:
    """The query position of a one-layer, attention-only, pre-LayerNorm model without biases or positions."""

    def __init__(self, p):
        self.p = p
        self.E = p["blocks.0.attn.W_Q"].shape[-1]

    def parts(self, ids):
        p = self.p
        x = p["embed.W_in"][ids[..., 0]] + p["embed.W_in"][ids[..., 1]]  # (n, T, D)
        h = layer_norm(x, p["blocks.0.ln1.w"])
        q = np.einsum("nd,hde->nhe", h[:, -1], p["blocks.0.attn.W_Q"])
        k = np.einsum("ntd,hde->nhte", h, p["blocks.0.attn.W_K"])
        v = np.einsum("ntd,hde->nhte", h, p["blocks.0.attn.W_V"])
        scores = np.einsum("nhe,nhte->nht", q, k) / np.sqrt(self.E)  # the last position sees every key
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        written = np.einsum("nhte,hed->nhtd", v, p["blocks.0.attn.W_O"])
        return x[:, -1], scores, weights, written

    def logits(self, query_input, weights, written):
        resid = query_input + np.einsum("nht,nhtd->nd", weights, written)
        return layer_norm(resid, self.p["ln_final.w"]) @ self.p["unembed.W_U"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--mechlab", default=str(pathlib.Path(__file__).resolve().parents[2] / "build" / "mechlab"))
    parser.add_argument("--examples", type=int, default=3000)
    args = parser.parse_args()
    config_path = args.run_dir / "config.json"
    if not config_path.exists():
        sys.exit(f"retrieval_shortcut.py: {args.run_dir} is not a run directory (no config.json)")
    config = json.loads(config_path.read_text())
    task, model = config["task"], config["model"]
    if task["layout"] != "pair_token" or task["steps"] != 2 or model["n_layers"] != 1 or model["d_mlp"] != 0:
        sys.exit("retrieval_shortcut.py: needs a one-layer, attention-only, pair-token run at task.steps = 2")
    replica = args.run_dir / "replica_0" if (args.run_dir / "replica_0").exists() else args.run_dir
    checkpoints = sorted((replica / "checkpoints").glob("step_*.safetensors"))
    if not checkpoints:
        sys.exit(f"retrieval_shortcut.py: {replica} has no checkpoint yet")
    V, C, chains = task["variables"], task["values"], task["chains"]
    model_ = OneLayer(load_checkpoint(checkpoints[-1]))
    ids, answer, hop1, own, other = examples(args.examples, V, C, chains)
    n = np.arange(len(ids))

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/in.npy", ids.astype(np.int32))
        subprocess.run([args.mechlab, "forward", str(checkpoints[-1]), "--input", f"{tmp}/in.npy", "--out",
                        f"{tmp}/out.npy"], check=True, capture_output=True)
        theirs = np.load(f"{tmp}/out.npy")[:, -1]
    x_q, scores, weights, written = model_.parts(ids)
    ours = model_.logits(x_q, weights, written)
    accuracy = lambda logits, target: float((logits.argmax(-1) == target).mean())  # noqa: E731
    print(f"checkpoint {checkpoints[-1]}: largest |numpy - mechlab forward| logit {np.abs(ours - theirs).max():.2e}")
    print(f"depth-2 accuracy, four distinct values (guessing: 0.25): {accuracy(ours, answer):.3f}")

    def with_hop1_rhs(variables):
        changed = ids.copy()
        changed[n, hop1, 1] = V + 1 + variables
        return changed
    undefined = np.array([next(v for v in range(V) if v not in set(row[:, 0]) | set(row[:, 1] - V - 1)) for row in ids])
    broken = model_.parts(with_hop1_rhs(undefined))
    print(f"hop 1 pointing at an undefined variable: {accuracy(model_.logits(broken[0], broken[2], broken[3]), answer):.3f}")
    redirected_ids = with_hop1_rhs(ids[n, other, 0])
    new_answer = ids[n, other, 1] - (V + 1) - V
    red = model_.parts(redirected_ids)
    red_logits = model_.logits(red[0], red[2], red[3])
    print(f"hop 1 pointing at another chain's first variable: its value {accuracy(red_logits, new_answer):.3f}, "
          f"the old answer {accuracy(red_logits, answer):.3f}")
    value_cols = (ids[:, :-1, 1] >= V + 1 + V)[:, None, :]
    relative = lambda w: np.where(value_cols, w[..., :-1], 0) / np.where(value_cols, w[..., :-1], 0).sum(-1, keepdims=True)  # noqa: E731
    print(f"largest change of the relative weights on the value assignments when hop 1 is redirected: "
          f"{np.abs(relative(weights) - relative(red[2])).max():.1e}")
    without = written.copy()
    without[n, :, hop1] = 0.0
    print(f"without what hop 1 writes into the query: {accuracy(model_.logits(x_q, weights, without), answer):.3f}")
    mixed = red[3].copy()
    mixed[n, :, hop1] = written[n, :, hop1]
    print(f"redirected attention, original hop-1 vector: the new answer {accuracy(model_.logits(x_q, red[2], mixed), new_answer):.3f}")
    value_rows = ids[:, :-1, 1] >= V + 1 + V
    for h in range(scores.shape[1]):
        own_score = scores[n, h, own]
        others = np.where(value_rows & (np.arange(ids.shape[1] - 1)[None] != own[:, None]), scores[:, h, :-1], np.nan)
        preference = own_score - np.nanmean(others, axis=1)
        r = np.corrcoef(preference, scores[n, h, hop1])[0, 1]
        print(f"head L0H{h}: corr(preference for the linked value assignment, score for hop 1) = {r:+.3f}")


if __name__ == "__main__":
    main()
