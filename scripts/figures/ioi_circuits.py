#!/usr/bin/python3
"""Each seed's IOI circuit (docs/studies/ioi.md): the heads' roles, path patching into the name movers' queries,
and the faithfulness, completeness and minimality of the circuit of the heads with a role (Wang et al. 2022).

    scripts/figures/ioi_circuits.py RUN_DIR [--mechlab build/mechlab] [--device cpu|cuda] [--out DIR]
                                    [--max-subsets 64] [--needed 0.1] [--faithful 0.8] [--seeds N]

RUN_DIR is a templates-preset run whose seeds are replicas, analysed first with configs/ioi/roles_templates.json
(its `dla`: each head's direct logit attribution, at the last checkpoint). Per seed, from the run's evaluation at
that step (its attn_<role> scores) and that attribution, a head is a

    name mover           END -> IO attention > 0.5 and a positive direct attribution (a negative one: negative)
    duplicate-token head S2 -> S1 > 0.5         induction head  S2 -> S1+1 > 0.5
    previous-token head  S1+1 -> S1 > 0.5       S-inhibition candidate  END -> S2 > 0.5

Per seed (`mechlab analyze ... --checkpoint` on that seed alone), the script path-patches each head from
S2-flipped prompts to the logits (its direct effect), and for each name mover every head of an earlier layer
into the name mover's queries, and reports the change in logit difference. The circuit C is the set of heads with a role and of heads whose mean ablation alone (the spec's
`each_head_mean_ld`) costs more than --needed (0.1) of the logit difference, completed greedily while its
faithfulness is below --faithful (0.8): each time the head whose addition raises F(C) most joins it (so a set of
heads that matter only together is found too). MLPs are never ablated. With F(X) the mean logit difference on
the run's evaluation batch when every head outside X is mean-ablated over ABC prompts, the means per template:
faithfulness F(C) / F(M); completeness max over K of |F(C \\ K) - F(M \\ K)| / F(M); minimality, per v in C,
max over K of |F(C \\ (K + v)) - F(C \\ K)| / F(M), K over the subsets of C (all of them up to --max-subsets,
else a sample). --seeds N analyses the first N seeds only; seeds without checkpoints are skipped, by name. Writes
DIR/circuits_<run>.md and circuits_<run>.json (default RUN_DIR/../figures).
"""
import argparse
import itertools
import json
import pathlib
import random
import subprocess
import sys

import numpy as np

ROLES = {"duplicate-token": "attn_s2_s1", "induction": "attn_s2_s1p1", "previous-token": "attn_s1p1_s1",
         "S-inhibition": "attn_end_s2"}
ATTENDS = 0.5


def fail(message):
    print(f"ioi_circuits.py: {message}", file=sys.stderr)
    sys.exit(2)


def ranges(numbers):
    """[2, 3, 4, 7] -> "2-4, 7"."""
    spans = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in spans)


def head_names(layers, heads):
    return [f"L{l}H{h}" for l in range(layers) for h in range(heads)]


def roles_of(summary, dla, layers, heads):
    """{head: [roles]} of one seed from its last evaluation's role scores and the heads' direct attribution."""
    roles = {}
    for l in range(layers):
        for h in range(heads):
            name, found = f"L{l}H{h}", []
            if summary[f"attn_end_io.{name}"] > ATTENDS:
                found.append("name mover" if dla[l, h] > 0 else "negative name mover")
            found += [role for role, score in ROLES.items() if summary[f"{score}.{name}"] > ATTENDS]
            if found:
                roles[name] = found
    return roles


class Seed:
    """One replica analysed alone through `mechlab analyze RUN SPEC --checkpoint`."""

    def __init__(self, args, run, replica, index):
        self.args, self.run, self.index = args, run, index
        self.replica = replica
        self.checkpoint = sorted((replica / "checkpoints").glob("step_*.safetensors"))[-1]
        self.step = int(self.checkpoint.stem.split("_")[1])

    def evaluation(self):
        """The run's evaluation at the checkpoint's step (its metrics and role scores)."""
        records = [json.loads(line) for line in (self.replica / "metrics.jsonl").read_text().splitlines() if line.strip()]
        at = [r for r in records if r.get("step") == self.step and "accuracy" in r]
        if not at:
            fail(f"{self.replica}/metrics.jsonl has no evaluation at step {self.step}, the last checkpoint's")
        return at[-1]

    def analyze(self, spec, tag):
        """Runs the spec's analyses (names prefixed by the seed) and returns {name: (metric array, table)}."""
        for entry in spec["analyses"]:
            entry["name"] = f"seed{self.index}_{tag}_{entry['name']}"
        path = self.run / "analysis" / f"seed{self.index}_{tag}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))
        done = subprocess.run([self.args.mechlab, "analyze", str(self.run), str(path), "--checkpoint", str(self.checkpoint),
                               "--device", self.args.device], capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"mechlab analyze failed on seed {self.index}: {done.stderr.strip()}")
        out = {}
        for entry in spec["analyses"]:
            folder = self.run / "analysis" / entry["name"]
            out[entry["name"].split(f"{tag}_", 1)[1]] = (np.load(folder / "metric.npy"),
                                                         json.loads((folder / "table.json").read_text()))
        return out


def subsets(circuit, limit, seed):
    every = [frozenset(k) for n in range(len(circuit) + 1) for k in itertools.combinations(sorted(circuit), n)]
    if len(every) <= limit:
        return every
    rng = random.Random(seed)
    return [frozenset(), frozenset(circuit)] + rng.sample(every[1:-1], limit - 2)


def circuit_scores(seed, heads, circuit, limit):
    """F over the subsets needed for faithfulness, completeness and minimality."""
    ks = subsets(circuit, limit, seed.index)
    wanted = {}  # ablated set -> analysis name
    for k in ks:
        for ablated in (frozenset(heads) - (circuit - k), k):  # C \ K ablates what is outside it; M \ K ablates K
            wanted.setdefault(ablated, f"f{len(wanted)}")
        if circuit:
            for v in circuit - k:
                wanted.setdefault(frozenset(heads) - (circuit - k - {v}), f"f{len(wanted)}")
    entries = [{"name": name, "kind": "ablation", "components": sorted(ablated), "together": True, "value": "mean",
                "mean_by": "template", "metric": "logit_diff"} for ablated, name in wanted.items() if ablated]
    results = seed.analyze({"batch": "eval", "analyses": entries}, "circuit") if entries else {}
    clean = None
    f = {}
    for ablated, name in wanted.items():
        if ablated:
            metric, table = results[name]
            f[ablated] = float(np.ravel(metric)[0])
            clean = float(np.ravel(table["baseline"]["clean"])[0])
    if clean is None:
        fail("no head to ablate")
    f[frozenset()] = clean

    def F(kept):  # every head outside `kept` ablated
        return f[frozenset(heads) - kept]

    faithfulness = F(circuit) / clean
    completeness = max(abs(F(circuit - k) - f[k]) for k in ks) / abs(clean)
    minimality = {v: max(abs(F(circuit - k - {v}) - F(circuit - k)) for k in ks if v not in k) / abs(clean) for v in circuit}
    return {"F_M": clean, "F_C": F(circuit), "F_empty": f[frozenset(heads)], "faithfulness": faithfulness,
            "incompleteness": completeness, "minimality": minimality, "subsets": len(ks)}


def mean_ablated(ablated, name):
    return {"name": name, "kind": "ablation", "components": sorted(ablated), "together": True, "value": "mean",
            "mean_by": "template", "metric": "logit_diff"}


def completed(seed, heads, circuit, target):
    """The circuit and the heads added to it, one at a time, each the one whose addition raises F(C) most, until
    F(C) / F(M) reaches the target (or every head is in)."""
    added = []
    while set(heads) - circuit:
        outside = sorted(set(heads) - circuit)
        entries = [mean_ablated(set(heads) - circuit, "now")]
        entries += [mean_ablated(set(heads) - circuit - {h}, h) for h in outside if set(heads) - circuit - {h}]
        results = seed.analyze({"batch": "eval", "analyses": entries}, "grow")
        clean = float(np.ravel(results["now"][1]["baseline"]["clean"])[0])
        f = {name: float(np.ravel(metric)[0]) for name, (metric, _) in results.items()}
        if f["now"] / clean >= target:
            break
        best = max(outside, key=lambda h: f.get(h, clean))  # the last head completes M, whose F is F(M)
        circuit = circuit | {best}
        added.append(best)
    return circuit, added


def name_mover_queries(seed, mover, layers, heads):
    """Path patching from S2-flipped prompts: every head of an earlier layer into the name mover's queries."""
    layer = int(mover[1:].split("H")[0])
    senders = [n for n in head_names(layers, heads) if int(n[1:].split("H")[0]) < layer]
    if not senders:
        return {}
    entries = [{"name": s, "kind": "path_patching", "senders": [s], "receivers": [{"head": mover, "input": "q"}],
                "metric": "logit_diff"} for s in senders]
    results = seed.analyze({"batch": "contrast", "contrast": "s2_flip", "batch_size": 512, "analyses": entries},
                           f"q_{mover}")
    return {s: float(np.ravel(m)[0]) - float(np.ravel(t["baseline"]["clean"])[0]) for s, (m, t) in results.items()}


def to_logits(seed, layers, heads):
    """Path patching from S2-flipped prompts: each head alone to the logits (its direct effect), as the change in
    logit difference, {head: change}."""
    entry = {"name": "to_logits", "kind": "path_patching", "senders": "heads", "metric": "logit_diff"}
    metric, table = seed.analyze({"batch": "contrast", "contrast": "s2_flip", "batch_size": 512, "analyses": [entry]},
                                 "logits")["to_logits"]
    clean = float(np.ravel(table["baseline"]["clean"])[0])
    grid = np.asarray(metric).reshape(layers, heads)
    return {f"L{l}H{h}": float(grid[l, h]) - clean for l in range(layers) for h in range(heads)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--mechlab", default=str(pathlib.Path(__file__).resolve().parents[2] / "build" / "mechlab"))
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--out", type=pathlib.Path)
    parser.add_argument("--max-subsets", type=int, default=64)
    parser.add_argument("--needed", type=float, default=0.1)
    parser.add_argument("--faithful", type=float, default=0.8, help="complete the circuit up to this faithfulness")
    parser.add_argument("--seeds", type=int, help="the first N seeds only")
    args = parser.parse_args()
    run = args.run_dir
    config = json.loads((run / "config.json").read_text())
    layers, heads = config["model"]["n_layers"], config["model"]["n_heads"]
    dla_path = run / "analysis" / "dla" / "per_head.npy"
    if not dla_path.exists():
        fail(f"{dla_path} is missing; run `mechlab analyze {run} configs/ioi/roles_templates.json` first")
    dla = np.load(dla_path)
    cost = -np.load(run / "analysis" / "each_head_mean_ld" / "change.npy")  # (R, L, H): what ablating it alone costs
    def index(replica):
        return int(replica.name.split("_")[1])

    replicas = sorted(run.glob("replica_*"), key=index)[:args.seeds]
    missing = [p for p in replicas if not list((p / "checkpoints").glob("step_*.safetensors"))]
    if missing:  # e.g. a 64-seed run of which only some checkpoints were copied
        print(f"ioi_circuits.py: no checkpoint, skipped: replicas {ranges([index(p) for p in missing])}", file=sys.stderr)
        replicas = [p for p in replicas if p not in missing]
    all_heads = head_names(layers, heads)
    rows = []
    for replica in replicas:
        r = index(replica)
        seed = Seed(args, run, replica, r)
        summary = seed.evaluation()
        roles = roles_of(summary, dla[r], layers, heads)
        movers = [h for h, found in roles.items() if "name mover" in found]
        queries = {m: name_mover_queries(seed, m, layers, heads) for m in movers}
        direct = to_logits(seed, layers, heads)
        needed = {f"L{l}H{h}" for l in range(layers) for h in range(heads) if cost[r, l, h] > args.needed * summary["logit_diff"]}
        circuit, added = completed(seed, all_heads, frozenset(roles) | needed, args.faithful)
        scores = circuit_scores(seed, all_heads, circuit, args.max_subsets)
        rows.append({"seed": r, "accuracy": summary["accuracy"], "logit_diff": summary["logit_diff"], "roles": roles,
                     "circuit": sorted(circuit), "added": added,
                     "name_mover_queries": queries, "to_logits": direct, **{k: (sorted(v.items()) if isinstance(v, dict) else v)
                                                       for k, v in scores.items()}})
        print(f"seed {r}: {len(roles)} heads with a role, circuit of {len(circuit)} ({len(added)} added), "
              f"faithfulness {scores['faithfulness']:.2f}", file=sys.stderr)
    out = args.out or run.parent / "figures"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"circuits_{run.name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [f"# {run.name}: each seed's circuit", "",
             "Roles from the evaluation at the last checkpoint (attention scores > 0.5) and each head's direct "
             "attribution; the circuit: every head with a role or whose mean ablation alone costs more than "
             f"{args.needed} of the logit difference, then (in *italics*) the heads added one at a time, each raising "
             f"F(C) most, until the faithfulness reaches {args.faithful}; F = mean logit difference with the heads "
             "outside mean-ablated over ABC prompts, per template (MLPs kept).", "",
             "| seed | accuracy | roles | circuit | S2-flip into the name movers' queries (largest change in LD) | F(M) | "
             "F(C) | faithfulness | incompleteness | least minimality |", "|---:|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        roles = "; ".join(f"{h} {'/'.join(v)}" for h, v in sorted(row["roles"].items())) or "—"
        q = "; ".join(f"{m} <- {min(c, key=c.get)} {c[min(c, key=c.get)]:+.2f}" for m, c in row["name_mover_queries"].items() if c) or "—"
        least = min((v for _, v in row["minimality"]), default=float("nan"))
        circuit = ", ".join(f"*{h}*" if h in row["added"] else h for h in row["circuit"]) or "—"
        lines.append(f"| {row['seed']} | {row['accuracy']:.3f} | {roles} | {circuit} | {q} | "
                     f"{row['F_M']:.2f} | {row['F_C']:.2f} | "
                     f"{row['faithfulness']:.2f} | {row['incompleteness']:.2f} | {least:.2f} |")
    (out / f"circuits_{run.name}.md").write_text("\n".join(lines) + "\n")
    print(out / f"circuits_{run.name}.md")


if __name__ == "__main__":
    main()
