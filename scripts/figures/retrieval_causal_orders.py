#!/usr/bin/python3
"""Which orders of a chain a causal attention stack can follow: a counting model of stacked retrieval
(docs/studies/retrieval.md, "What a causal stack can follow").

    scripts/figures/retrieval_causal_orders.py [--layers 1 2 3 4] [--max-depth 10] [--failing L K] [--json OUT]
                                               [--compare ORDER_JSON...]

A query k hops deep follows the chain of its k assignments, hop 1 its own ("v_k = v_(k-1)") to hop k
("v_1 = value"), which stand in random order among the sequence's positions. The model: after each layer the
position of hop h knows an interval [s, e] of hops (it can name where the lhs of hop s leads after hop e),
starting from [h, h]. In every layer each assignment makes two lookups into positions before it (the causal
mask), reading their previous-layer intervals: forward, into one whose interval starts where its own ends, and
backward, into one whose interval ends where its own starts; a position can be found by its own hop or by the
end of its interval (what its residual stream holds). The query, last in the sequence, looks forward once a
layer, starting before hop 1. An order is followed when the query's interval reaches hop k after the last
layer. Each layer at most triples an interval, the log_3 bound; the causal mask allows that only where the
middle assignment comes after both of the ones it reads.

Prints, for each number of layers, the fraction of the k! orders (20000 sampled for k > 7) that the stack
follows at each depth; --failing L K lists the orders L layers miss at depth K (hops in order of position) and
which pairwise orders they share. --compare (with --failing L K) reads the per-order accuracies that
scripts/figures/retrieval_order.py --json wrote for trained models at depth K and prints, for each, the accuracy
in the orders the count says L layers miss, in the other orders that share every pairwise relation the missed
ones share (the count's finer distinction), and in the rest. No dependencies beyond Python.
"""
import argparse
import itertools
import json
import random
import sys


def follows(order, layers):
    """order[h - 1] is the position of hop h's assignment; True if `layers` layers take the query to hop k."""
    k = len(order)
    position = {h: order[h - 1] for h in range(1, k + 1)}
    interval = {h: (h, h) for h in position}
    query_end = 0
    for _ in range(layers):
        known = dict(interval)  # this layer reads the previous layer's intervals

        def ends_from(hop, before=None):  # where positions that can be found at `hop` lead
            return [known[g][1] for g in known
                    if (before is None or position[g] < before) and (g == hop or known[g][0] == hop)]

        def starts_to(hop, before):  # where positions that lead to `hop` start
            return [known[g][0] for g in known if position[g] < before and (g == hop or known[g][1] == hop)]

        for h in position:
            start, end = known[h]
            interval[h] = (min(starts_to(start - 1, position[h]) + [start]),
                           max(ends_from(end + 1, position[h]) + [end]))
        query_end = max(ends_from(query_end + 1) + [query_end])
    return query_end >= k


def orders(k, samples=20000):
    if k <= 7:
        return list(itertools.permutations(range(k)))
    rng = random.Random(0)
    return [tuple(rng.sample(range(k), k)) for _ in range(samples)]


def fraction(layers, k):
    every = orders(k)
    return sum(follows(o, layers) for o in every) / len(every)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--max-depth", type=int, default=10)
    parser.add_argument("--failing", type=int, nargs=2, metavar=("L", "K"))
    parser.add_argument("--json", help="write the fractions here: {layers: {depth: fraction}}")
    parser.add_argument("--compare", nargs="+", metavar="ORDER_JSON",
                        help="retrieval_order.py --json tables at depth K to set beside --failing L K")
    args = parser.parse_args()
    if min(args.layers) < 1 or args.max_depth < 1:
        sys.exit("retrieval_causal_orders.py: --layers and --max-depth must be at least 1")
    if args.compare and not args.failing:
        sys.exit("retrieval_causal_orders.py: --compare needs --failing L K (the layers and the depth to compare at)")

    table = {L: {k: fraction(L, k) for k in range(1, args.max_depth + 1)} for L in args.layers}
    print("| layers | " + " | ".join(f"depth {k}" for k in range(1, args.max_depth + 1)) + " |")
    print("|---|" + "---:|" * args.max_depth)
    for L, row in table.items():
        print(f"| {L} | " + " | ".join(f"{f:.3f}" for f in row.values()) + " |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({str(L): {str(k): f for k, f in row.items()} for L, row in table.items()}, out, indent=1)

    if args.failing:
        L, k = args.failing
        every = orders(k)
        missed = [o for o in every if not follows(o, L)]
        print(f"\n{L} layer(s), depth {k}: {len(missed)} of {len(every)} orders missed (hops listed by position):")
        print(" ".join("".join(str(h) for h in sorted(range(1, k + 1), key=lambda h: o[h - 1])) for o in missed))
        shared = shared_relations(missed, k)
        for i, j, before in shared:
            print(f"every missed order has hop {i} {'before' if before else 'after'} hop {j}")
        if args.compare:
            compare(args.compare, L, k, missed, shared)


def shared_relations(missed, k):
    """The pairwise relations (i, j, i before j) that every missed order has."""
    relations = []
    for i, j in itertools.combinations(range(1, k + 1), 2):
        share = sum(o[i - 1] < o[j - 1] for o in missed) / max(1, len(missed))
        if share in (0.0, 1.0):
            relations.append((i, j, share == 1.0))
    return relations


def compare(paths, layers, k, missed, shared):
    """Accuracy of each trained model in the missed orders, the look-alikes the count follows, and the rest."""
    def hop_positions(sequence):  # retrieval_order.py lists hops by position; the count indexes positions by hop
        return tuple(sequence.index(h) for h in range(1, k + 1))

    missed = set(missed)
    like_missed = lambda o: all((o[i - 1] < o[j - 1]) == before for i, j, before in shared)
    print(f"\ntrained models at depth {k} against {layers} layer(s)' count: accuracy (orders, examples)")
    print("| model | all | missed by the count | sharing their pairwise relations, followed by the count | rest |")
    print("|---|---:|---:|---:|---:|")
    for path in paths:
        try:
            with open(path) as f:
                table = json.load(f)
            depth, orders = table["depth"], table["orders"]
            if depth != k or any(sorted(row["order"]) != list(range(1, k + 1)) for row in orders):
                sys.exit(f"retrieval_causal_orders.py: {path} is a split at depth {depth}, not {k}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            sys.exit(f"retrieval_causal_orders.py: {path} is not a table of retrieval_order.py --json ({e!r})")
        groups = {"missed": [], "alike": [], "rest": []}
        for row in orders:
            o = hop_positions(row["order"])
            group = "missed" if o in missed else "alike" if like_missed(o) else "rest"
            groups[group].append((row["count"], row["accuracy"]))

        def cell(rows):
            n = sum(c for c, _ in rows)
            return f"{sum(c * a for c, a in rows) / n:.3f} ({len(rows)}, {n})" if n else "- (0, 0)"
        print(f"| {table['run']} | {table['accuracy']:.3f} | " +
              " | ".join(cell(groups[g]) for g in ("missed", "alike", "rest")) + " |")


if __name__ == "__main__":
    main()
