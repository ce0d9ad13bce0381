#!/usr/bin/env python3
"""PyTorch twin of mechlab's GPU benchmark: trains the same pre-LN transformer on random tokens
in plain fp32 and prints one JSON line (time per step, final loss, peak memory allocated and reserved) for scripts/bench_gpu.
Diagnostics go to stderr so stdout stays one parseable line."""
import argparse
import json
import math
import sys
import time

import torch
import torch._dynamo  # for its recompile limit in compile mode
import torch.nn as nn
import torch.nn.functional as F


def log(*args):
    print("bench_torch_reference:", *args, file=sys.stderr, flush=True)


class Attention(nn.Module):
    def __init__(self, d_model, heads, seq, kind):
        super().__init__()
        self.heads, self.width, self.kind = heads, d_model // heads, kind
        self.q = nn.Linear(d_model, heads * self.width)
        self.k = nn.Linear(d_model, heads * self.width)
        self.v = nn.Linear(d_model, heads * self.width)
        self.o = nn.Linear(heads * self.width, d_model)
        # True above the diagonal = future positions a query may not see; a buffer so it lives on the GPU.
        self.register_buffer("future", torch.ones(seq, seq, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x):
        B, T, _ = x.shape
        split = lambda t: t.view(B, T, self.heads, self.width).transpose(1, 2)  # (B, H, T, E)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.kind == "sdpa":
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            # Spelled out the way mechlab computes it: scores, masked softmax, weighted sum of values.
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.width)
            pattern = scores.masked_fill(self.future[:T, :T], float("-inf")).softmax(dim=-1)
            z = pattern @ v
        return self.o(z.transpose(1, 2).reshape(B, T, self.heads * self.width))


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(a.d_model, eps=1e-5), nn.LayerNorm(a.d_model, eps=1e-5)
        self.attn = Attention(a.d_model, a.heads, a.seq, a.attention)
        self.mlp = nn.Sequential(nn.Linear(a.d_model, a.d_mlp), nn.GELU(), nn.Linear(a.d_mlp, a.d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Returns the mean cross-entropy, so torch.compile sees forward and loss as one graph."""

    def __init__(self, a):
        super().__init__()
        self.W_E = nn.Embedding(a.vocab, a.d_model)
        self.W_pos = nn.Parameter(torch.randn(a.seq, a.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.ln_final = nn.LayerNorm(a.d_model, eps=1e-5)
        self.unembed = nn.Linear(a.d_model, a.vocab)  # untied from W_E, with bias

    def forward(self, tokens, targets):
        x = self.W_E(tokens) + self.W_pos[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        logits = self.unembed(self.ln_final(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--d-mlp", type=int, default=256)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--vocab", type=int, default=66)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--models", type=int, default=1, help="independent models trained one after another per step")
    p.add_argument("--ensemble", choices=["loop", "vmap"], default="loop",
                   help="vmap: the models as one stacked ensemble (torch.func.stack_module_state + vmap, one AdamW)")
    p.add_argument("--mode", choices=["eager", "compile"], default="eager")
    p.add_argument("--compile-mode", default=None, help='torch.compile mode, e.g. "max-autotune-no-cudagraphs"')
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--attention", choices=["manual", "sdpa"], default="manual")
    p.add_argument("--device", default="cuda")
    p.add_argument("--tf32", action="store_true", help="allow TF32 tensor-core matmuls (as mechlab's --tf32)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.d_model % a.heads:
        p.error(f"--d-model {a.d_model} is not divisible by --heads {a.heads}")
    if min(a.layers, a.heads, a.d_model, a.d_mlp, a.seq, a.vocab, a.batch, a.models, a.steps) < 1 or a.warmup < 0:
        p.error("sizes and --steps must be positive, --warmup non-negative")
    if a.compile_mode and a.mode != "compile":
        log("--compile-mode is ignored without --mode compile")
        a.compile_mode = None
    return a


def main():
    a = parse_args()
    if not a.device.startswith("cuda") or not torch.cuda.is_available():
        sys.exit(f"bench_torch_reference: CUDA is unavailable (device {a.device!r}, "
                 f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()})")
    # Both sides use the same precision: fp32 by default, TF32 tensor cores with --tf32 on both.
    # Only the legacy flags are set: mixing them with the new fp32_precision API raises in torch >= 2.9.
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    device = torch.device(a.device)
    torch.manual_seed(a.seed)
    log(f"torch {torch.__version__} on {torch.cuda.get_device_name(device)}; fp32, TF32 {'allowed' if a.tf32 else 'disabled'} "
        f"(matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, cudnn.allow_tf32={torch.backends.cudnn.allow_tf32})")

    models = [Transformer(a).to(device) for _ in range(a.models)]
    # Defaults otherwise (foreach AdamW on CUDA); weight decay applies to every parameter.
    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
                  for m in models]
    log(f"{a.models} model(s) of {sum(p.numel() for p in models[0].parameters())} parameters, "
        f"mode {a.mode}{' ' + a.compile_mode if a.compile_mode else ''}, attention {a.attention}")

    if a.ensemble == "vmap":
        del optimizers  # they never stepped, so they hold no state
        return vmap_ensemble(a, models, device)

    cudagraphs = a.mode == "compile" and a.compile_mode is not None and "reduce-overhead" in a.compile_mode
    if a.mode == "compile":
        # Every model is its own module instance; let dynamo keep one graph per model rather than fall back
        # to eager. cache_size_limit is the older name of recompile_limit.
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), a.models + 8))
                break
        kwargs = {"mode": a.compile_mode} if a.compile_mode else {}
        steppers = [torch.compile(m, **kwargs) for m in models]
    else:
        steppers = models

    # Random tokens drawn on the GPU so the host never feeds the step.
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    last_losses = [None] * a.models

    def train_step(keep_loss):
        for r in range(a.models):
            optimizers[r].zero_grad(set_to_none=True)
            data = torch.randint(0, a.vocab, (a.batch, a.seq + 1), device=device, generator=gen)
            if cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()  # earlier graph outputs are no longer needed
            loss = steppers[r](data[:, :-1], data[:, 1:])
            if keep_loss:
                last_losses[r] = loss.detach().clone()  # a clone survives a later CUDA-graph replay
            loss.backward()
            optimizers[r].step()

    report(a, device, time_steps(a, train_step), last_losses)


def time_steps(a, train_step):
    """Seconds for a.steps steps after a.warmup untimed ones; train_step(keep_loss) runs one step of every model."""
    t0 = time.perf_counter()
    for _ in range(a.warmup):  # includes torch.compile's compilation in compile mode
        train_step(False)
    torch.cuda.synchronize()
    log(f"warm-up of {a.warmup} step(s) took {time.perf_counter() - t0:.1f} s")
    start = time.perf_counter()
    for i in range(a.steps):
        train_step(i == a.steps - 1)  # no .item() inside the timed loop: it would synchronize every step
    torch.cuda.synchronize()
    return time.perf_counter() - start


def vmap_ensemble(a, models, device):
    """What a PyTorch user does for many seeds: the models' parameters stacked, one vmapped forward and
    backward over all of them, one AdamW over the stacked tensors."""
    import copy
    from torch.func import functional_call, stack_module_state

    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    models.clear()  # the stacked copies are the ensemble now: only they count in the peak memory
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)

    def one_model(p, b, tokens, targets):
        return functional_call(base, (p, b), (tokens, targets))

    ensemble = torch.vmap(one_model, in_dims=(0, 0, 0, 0), randomness="same")
    if a.mode == "compile":
        ensemble = torch.compile(ensemble, **({"mode": a.compile_mode} if a.compile_mode else {}))
    optimizer = torch.optim.AdamW(params.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    last_losses = [None]

    def train_step(keep_loss):
        optimizer.zero_grad(set_to_none=True)
        data = torch.randint(0, a.vocab, (a.models, a.batch, a.seq + 1), device=device, generator=gen)
        losses = ensemble(params, buffers, data[..., :-1], data[..., 1:])
        if keep_loss:
            last_losses[0] = losses.detach().clone()
        losses.sum().backward()
        optimizer.step()

    elapsed = time_steps(a, train_step)
    report(a, device, elapsed, list(last_losses[0].unbind(0)))


def report(a, device, elapsed, last_losses):
    print(json.dumps({
        "impl": "torch", "mode": a.mode, "attention": a.attention, "ensemble": a.ensemble,
        "layers": a.layers, "heads": a.heads, "d_model": a.d_model, "d_mlp": a.d_mlp,
        "seq": a.seq, "vocab": a.vocab, "batch": a.batch, "models": a.models, "steps": a.steps,
        "ms_per_step": elapsed * 1e3 / a.steps,  # all models together
        "final_loss": sum(l.item() for l in last_losses) / a.models,  # mean over models of the last step
        "max_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20,
        "max_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,  # what its allocator held
        "torch": torch.__version__, "tf32": a.tf32,
        "compile_mode": a.compile_mode, "warmup": a.warmup, "gpu": torch.cuda.get_device_name(device),
    }), flush=True)


if __name__ == "__main__":
    main()
