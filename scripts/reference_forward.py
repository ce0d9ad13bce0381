#!/usr/bin/python3
"""An independent NumPy implementation of mechlab's transformer forward pass, in float64, written from the
conventions the README ("Model options") and docs/config.md (the model.* keys) state, not from src/: a check
that the documented model is the one mechlab trains, for anyone writing their own (a PyTorch port, say).

    scripts/reference_forward.py CHECKPOINT INPUT.npy OUT.npy

CHECKPOINT is a run's checkpoints/step_*.safetensors (one replica's: the parameters, TransformerLens names, and
the replica's config in the file's metadata); INPUT.npy is what `mechlab forward --input` takes (token ids (B, T),
token pairs (B, T, 2), or vectors (B, T, d_input)); OUT.npy gets the outputs (B, T, V), as `mechlab forward --f64
--out` writes them. tests/test_reference_forward.cpp compares the two over the model options. NumPy only.
"""
import math
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "figures"))
from checkpoints import checkpoint_config, load_checkpoint  # noqa: E402  (scripts/figures/checkpoints.py)


class Reference:
    def __init__(self, model, params):
        self.m, self.p = model, params
        head_width = model["d_head"] or model["d_model"] // model["n_heads"]  # d_head 0: d_model / n_heads
        self.scale = model["attention_scale"] or 1.0 / math.sqrt(head_width)

    def has(self, name):
        return name in self.p

    def bias(self, name):
        return self.p[name] if self.m["biases"] else 0.0

    def layer_norm(self, x, prefix):
        if self.m["layernorm"] == "none":
            return x
        mean = x.mean(-1, keepdims=True)
        x = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + self.m["layernorm_eps"])
        if self.has(prefix + ".w"):
            x = x * self.p[prefix + ".w"]
        if self.has(prefix + ".b"):
            x = x + self.p[prefix + ".b"]
        return x

    def embed(self, inputs):
        m, p = self.m, self.p
        if m["input"] == "tokens":
            x = p["embed.W_E"][inputs]
        elif m["input"] == "token_pairs":  # the two ids' rows of W_in, added
            x = p["embed.W_in"][inputs[..., 0]] + p["embed.W_in"][inputs[..., 1]] + self.bias("embed.b_in")
        elif m["input_projection"]:
            x = inputs @ p["embed.W_in"] + self.bias("embed.b_in")
        else:
            x = inputs.astype(np.float64)
        T, D = x.shape[1], x.shape[2]
        if m["positions"] == "learned":
            x = x + p["pos_embed.W_pos"][:T]
        elif m["positions"] == "sinusoidal":  # Vaswani et al.: sin at even features, cos at odd
            i = np.arange(D)
            angle = np.arange(T)[:, None] / 10000.0 ** ((i - i % 2) / D)[None, :]
            x = x + np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
        return x

    def rotate(self, x):
        """GPT-NeoX's half-split rotary form: features i and i + E/2 turn by t * base^(-2i/E); x (B, T, H, E)."""
        T, E = x.shape[1], x.shape[3]
        angle = np.arange(T)[:, None] * self.m["rotary_base"] ** (-2.0 * np.arange(E // 2) / E)[None, :]
        cos, sin = np.cos(angle)[None, :, None, :], np.sin(angle)[None, :, None, :]
        first, second = x[..., :E // 2], x[..., E // 2:]
        return np.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)

    def pattern(self, scores):
        """scores (B, H, T, T) -> the attention weights, causal, each kind as docs/config.md states it."""
        T = scores.shape[-1]
        query, key = np.arange(T)[:, None], np.arange(T)[None, :]
        visible = key < query if self.m["attention_excludes_self"] else key <= query
        counts = visible.sum(-1, keepdims=True).astype(np.float64)  # keys each query sees
        kind = self.m["attention"]
        if kind == "softmax":
            masked = np.where(visible, scores, -np.inf)
            top = np.max(masked, axis=-1, keepdims=True)
            top = np.where(np.isfinite(top), top, 0.0)  # a query that sees nothing
            weights = np.where(visible, np.exp(masked - top), 0.0)
            total = weights.sum(-1, keepdims=True)
            return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
        if kind in ("relu", "relu_by_length"):
            divisor = counts if kind == "relu" else float(T)
            return np.where(visible, np.maximum(scores, 0.0), 0.0) / np.maximum(divisor, 1.0)
        if kind == "linear":
            return np.where(visible, scores, 0.0)
        if kind == "linear_by_length":
            return np.where(visible, scores, 0.0) / np.maximum(counts, 1.0)
        raise SystemExit(f"reference_forward: unknown attention kind {kind}")

    def attention(self, x, l):
        b = f"blocks.{l}.attn"
        q, k, v = (np.einsum("btd,hde->bthe", x, self.p[f"{b}.W_{w}"]) + self.bias(f"{b}.b_{w}") for w in "QKV")
        if self.m["positions"] == "rotary":
            q, k = self.rotate(q), self.rotate(k)
        scores = np.einsum("bqhe,bkhe->bhqk", q, k) * self.scale
        z = np.einsum("bhqk,bkhe->bqhe", self.pattern(scores), v)
        return np.einsum("bqhe,hew->bqw", z, self.p[f"{b}.W_O"]) + self.bias(f"{b}.b_O")

    def mlp(self, x, l):
        b = f"blocks.{l}.mlp"
        pre = x @ self.p[f"{b}.W_in"] + self.bias(f"{b}.b_in")
        if self.m["activation"] == "relu":
            post = np.maximum(pre, 0.0)
        else:  # the exact erf form
            post = 0.5 * pre * (1.0 + np.vectorize(math.erf)(pre / math.sqrt(2.0)))
        return post @ self.p[f"{b}.W_out"] + self.bias(f"{b}.b_out")

    def forward(self, inputs):
        m = self.m
        kept = lambda switches, l: not m[switches] or m[switches][l]  # an empty list keeps every sublayer
        join = lambda x, out: x + out if m["residual"] else out  # without the residual stream a sublayer replaces it
        x = self.embed(inputs)
        for l in range(m["n_layers"]):
            if kept("attention_layers", l):
                x = join(x, self.attention(self.layer_norm(x, f"blocks.{l}.ln1"), l))
            if m["d_mlp"] > 0 and kept("mlp_layers", l):
                x = join(x, self.mlp(self.layer_norm(x, f"blocks.{l}.ln2"), l))
        if m["output"] == "heads":  # the last block's heads wrote the output
            return x
        return self.layer_norm(x, "ln_final") @ self.p["unembed.W_U"] + self.bias("unembed.b_U")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: reference_forward.py CHECKPOINT INPUT.npy OUT.npy")
    checkpoint, inputs, out = sys.argv[1:]
    model = checkpoint_config(checkpoint)["model"]
    params = {k: v for k, v in load_checkpoint(checkpoint).items() if not k.startswith("optim.")}
    np.save(out, Reference(model, params).forward(np.load(inputs)))


if __name__ == "__main__":
    main()
