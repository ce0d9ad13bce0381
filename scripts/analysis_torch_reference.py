#!/usr/bin/env python3
"""An independent PyTorch implementation of mechlab's activation and path patching, written on
TransformerLens' conventions: a hooked forward pass with TL's hook names and shapes, and one forward pass per
patched index (TL's patching.py runs run_with_hooks once per index tuple). It reads a mechlab run's checkpoint
(safetensors, TL parameter names) and the batch mechlab analysed (RUN_DIR/analysis/batch/), recomputes

  z_by_position  activation patching of hook_z by head and position [L, T, H] (denoising: corrupted run,
                 one clean head output at one position), TL's get_act_patch_attn_head_out_by_pos;
  path_logits    exact path patching of each head's direct path to the logits [L, H] (noising: clean run,
                 the sender's hook_z corrupted, every other hook_z and MLP output frozen at its clean value);
  path_<l>_<h>_<input>
                 path patching of each head into one receiver head's q, k or v input [L, H];

on the metric logit_diff (the mean over examples of the answer's minus the wrong token's logit at the trigger),
and compares them with mechlab's arrays in RUN_DIR/analysis/<name>/metric.npy. Prints one JSON line on stdout:
the largest differences, whether they are within the tolerance, and the seconds of the per-index loop.

    analysis_torch_reference.py RUN_DIR --step N [--receiver L1H0:k] [--dtype f32|f64] [--device cuda]
                                [--tolerance 1e-5] [--only z_by_position]
"""
import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch


def load_safetensors(path):
    """{name: tensor} of a safetensors file (8-byte header length, JSON header, raw little-endian data), read
    here so the reference needs nothing beyond numpy and torch."""
    data = pathlib.Path(path).read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    kinds = {"F32": np.float32, "F64": np.float64, "I32": np.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, stop = info["data_offsets"]
        raw = np.frombuffer(data, dtype=kinds[info["dtype"]], count=(stop - start) // np.dtype(kinds[info["dtype"]]).itemsize,
                            offset=8 + size + start)
        out[name] = torch.from_numpy(raw.reshape(info["shape"]).copy())
    return out


def log(*args):
    print("analysis_torch_reference:", *args, file=sys.stderr, flush=True)


class HookedModel:
    """mechlab's pre-LayerNorm transformer (token input, learned positions, causal softmax attention, logits)
    with TransformerLens hook points: blocks.{l}.attn.hook_q/k/v/z (B, T, H, E), hook_pattern (B, H, Tq, Tk),
    blocks.{l}.hook_attn_out / hook_mlp_out / hook_resid_pre/mid/post (B, T, D)."""

    def __init__(self, config, params):
        m = config["model"]
        supported = (m["layernorm"] == "pre" and m["positions"] == "learned" and m["attention"] == "softmax"
                     and m["input"] == "tokens" and m["output"] == "logits" and m["residual"]
                     and not m["attention_excludes_self"] and m["activation"] in ("relu", "gelu"))
        if not supported:
            sys.exit("analysis_torch_reference: this reference covers pre-LN token models with learned positions "
                     "and causal softmax attention; the run's model is another")
        self.p = params
        self.L, self.H = m["n_layers"], m["n_heads"]
        self.eps = m["layernorm_eps"]
        width = params["blocks.0.attn.W_Q"].shape[-1]
        self.scale = m["attention_scale"] if m["attention_scale"] > 0 else 1.0 / math.sqrt(width)
        self.act = torch.relu if m["activation"] == "relu" else torch.nn.functional.gelu

    def ln(self, x, prefix):
        x = x - x.mean(-1, keepdim=True)
        x = x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps)
        if prefix + ".w" in self.p:
            x = x * self.p[prefix + ".w"]
        if prefix + ".b" in self.p:
            x = x + self.p[prefix + ".b"]
        return x

    def bias(self, name):
        return self.p.get(name, 0.0)

    def run(self, tokens, hooks=None, capture=()):
        """Logits (B, T, V); hooks {name: fn(x) -> x}; the captured activations in a dict."""
        hooks, cache = hooks or {}, {}

        def at(name, x):
            if name in hooks:
                x = hooks[name](x)
            if name in capture:
                cache[name] = x
            return x

        p, T = self.p, tokens.shape[1]
        x = p["embed.W_E"][tokens] + p["pos_embed.W_pos"][:T]
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        for l in range(self.L):
            b = f"blocks.{l}"
            x = at(f"{b}.hook_resid_pre", x)
            h = self.ln(x, f"{b}.ln1")
            q = at(f"{b}.attn.hook_q", torch.einsum("btd,hde->bthe", h, p[f"{b}.attn.W_Q"]) + self.bias(f"{b}.attn.b_Q"))
            k = at(f"{b}.attn.hook_k", torch.einsum("btd,hde->bthe", h, p[f"{b}.attn.W_K"]) + self.bias(f"{b}.attn.b_K"))
            v = at(f"{b}.attn.hook_v", torch.einsum("btd,hde->bthe", h, p[f"{b}.attn.W_V"]) + self.bias(f"{b}.attn.b_V"))
            scores = torch.einsum("bqhe,bkhe->bhqk", q, k) * self.scale
            pattern = at(f"{b}.attn.hook_pattern", scores.masked_fill(future, float("-inf")).softmax(-1))
            z = at(f"{b}.attn.hook_z", torch.einsum("bhqk,bkhe->bqhe", pattern, v))
            attn_out = at(f"{b}.hook_attn_out",
                          torch.einsum("bqhe,hed->bqd", z, p[f"{b}.attn.W_O"]) + self.bias(f"{b}.attn.b_O"))
            x = at(f"{b}.hook_resid_mid", x + attn_out)
            if f"{b}.mlp.W_in" in p:
                post = at(f"{b}.mlp.hook_post", self.act(self.ln(x, f"{b}.ln2") @ p[f"{b}.mlp.W_in"] + self.bias(f"{b}.mlp.b_in")))
                mlp_out = at(f"{b}.hook_mlp_out", post @ p[f"{b}.mlp.W_out"] + self.bias(f"{b}.mlp.b_out"))
                x = x + mlp_out
            x = at(f"{b}.hook_resid_post", x)
        return self.ln(x, "ln_final") @ p["unembed.W_U"] + self.bias("unembed.b_U"), cache


def every_hook(model, kind):
    return [f"blocks.{l}.attn.hook_z" for l in range(model.L)] if kind == "z" else \
        [f"blocks.{l}.hook_mlp_out" for l in range(model.L) if f"blocks.{l}.mlp.W_in" in model.p]


def set_head(x, head, value, position=None):
    x = x.clone()
    if position is None:
        x[:, :, head] = value[:, :, head]
    else:
        x[:, position, head] = value[:, position, head]
    return x


def frozen_except(model, base, other, layer, head):
    """Hooks of pass 1 of path patching: every hook_z and MLP output at its `base` value, the sender head's
    hook_z at its `other` value."""
    hooks = {}
    for l, name in enumerate(every_hook(model, "z")):
        value = set_head(base[name], head, other[name]) if l == layer else base[name]
        hooks[name] = lambda x, value=value: value
    for name in every_hook(model, "mlp"):
        hooks[name] = lambda x, value=base[name]: value
    return hooks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--receiver", default="L1H0:k", help="receiver head and input of the second path patch")
    parser.add_argument("--dtype", choices=("f32", "f64"), default="f32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest |mechlab - reference| / max(1, |reference|) accepted")
    parser.add_argument("--only", action="append", help="compute only these arrays (z_by_position, path_logits, path)")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # mechlab multiplies in fp32 unless train.matmul_precision says tf32
    torch.backends.cudnn.allow_tf32 = False
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    device = torch.device(args.device)

    run, analysis = args.run_dir, args.run_dir / "analysis"
    config = json.loads((run / "config.json").read_text())
    tensors = load_safetensors(run / "checkpoints" / f"step_{args.step:08d}.safetensors")
    params = {k: v.to(device, dtype) for k, v in tensors.items() if not k.startswith("optim.")}
    model = HookedModel(config, params)
    batch = analysis / "batch"
    load = lambda name: torch.from_numpy(np.load(batch / f"{name}.npy")).to(device).long()
    clean, corrupted = load("clean_inputs"), load("corrupted_inputs")
    trigger, answer, wrong = load("position.trigger"), load("token.answer"), load("token.wrong")
    B, T = clean.shape
    rows = torch.arange(B, device=device)

    def logit_diff(logits):
        picked = logits[rows, trigger]
        return (picked[rows, answer] - picked[rows, wrong]).mean().item()

    hooks_z, hooks_all = every_hook(model, "z"), every_hook(model, "z") + every_hook(model, "mlp")
    receiver_head, receiver_input = args.receiver.split(":")
    rl, rh = int(receiver_head[1:receiver_head.index("H")]), int(receiver_head[receiver_head.index("H") + 1:])
    receiver_hook = f"blocks.{rl}.attn.hook_{receiver_input}"
    wanted = args.only or ["z_by_position", "path_logits", "path"]
    results, seconds = {}, {}

    def timed(name, body):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        results[name] = body()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[name] = time.perf_counter() - start
        log(f"{name}: {seconds[name]:.2f} s")

    with torch.no_grad():
        model.run(clean)  # device set-up (CUDA context, cuBLAS handles) outside the timed loops

        def z_by_position():  # the caches are part of the loop's cost, as in TL
            _, clean_cache = model.run(clean, capture=hooks_z)
            out = np.zeros((model.L, T, model.H))
            for l, name in enumerate(hooks_z):
                for t in range(T):
                    for h in range(model.H):
                        fix = lambda x, h=h, t=t, src=clean_cache[name]: set_head(x, h, src, t)
                        out[l, t, h] = logit_diff(model.run(corrupted, hooks={name: fix})[0])
            return out

        def path(receiver):
            _, clean_cache = model.run(clean, capture=hooks_all)
            _, corrupted_cache = model.run(corrupted, capture=hooks_z)
            out = np.zeros((model.L, model.H))
            for l in range(model.L):
                for h in range(model.H):
                    hooks = frozen_except(model, clean_cache, corrupted_cache, l, h)
                    if receiver is None:
                        out[l, h] = logit_diff(model.run(clean, hooks=hooks)[0])
                        continue
                    _, first = model.run(clean, hooks=hooks, capture=(receiver,))
                    fix = lambda x, src=first[receiver]: set_head(x, rh, src)
                    out[l, h] = logit_diff(model.run(clean, hooks={receiver: fix})[0])
            return out

        if "z_by_position" in wanted:
            timed("z_by_position", z_by_position)
        if "path_logits" in wanted:
            timed("path_logits", lambda: path(None))
        if "path" in wanted:
            timed(f"path_{rl}_{rh}_{receiver_input}", lambda: path(receiver_hook))

    report = {"dtype": args.dtype, "device": str(device), "batch": [B, T], "tolerance": args.tolerance,
              "seconds": seconds, "forwards": {"z_by_position": model.L * T * model.H + 1}, "arrays": {}}
    ok = True
    for name, reference in results.items():
        mine_file = analysis / name / "metric.npy"
        if not mine_file.exists():
            report["arrays"][name] = {"missing": str(mine_file)}
            ok = False
            continue
        mine = np.load(mine_file)
        if mine.shape != reference.shape:
            report["arrays"][name] = {"shape": [list(mine.shape), list(reference.shape)]}
            ok = False
            continue
        absolute = np.abs(mine - reference)
        relative = absolute / np.maximum(1.0, np.abs(reference))
        within = bool(relative.max() <= args.tolerance)
        ok &= within
        report["arrays"][name] = {"entries": int(reference.size), "max_abs_diff": float(absolute.max()),
                                  "max_scaled_diff": float(relative.max()), "largest_value": float(np.abs(reference).max()),
                                  "within_tolerance": within}
    report["agree"] = ok
    print(json.dumps(report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
