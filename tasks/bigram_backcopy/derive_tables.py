#!/usr/bin/env python3
# Derives the Bigram-Backcopy tables from tiny Shakespeare: the sorted 65-character vocabulary, unigram
# counts and the 65x65 bigram counts over every consecutive pair (rows = previous, columns = next), plus
# the text's byte length and sha256 so the tables can be traced to their source. Rerun with:
#   python3 tasks/bigram_backcopy/derive_tables.py /work/shared/data/tinyshakespeare.txt tasks/bigram_backcopy/tables.json
# Standard library only. Output is deterministic (fixed key order, one bigram row per line).
import hashlib
import json
import os
import sys


def derive(text: bytes) -> dict:
    vocab = sorted(set(text))
    index = {byte: i for i, byte in enumerate(vocab)}
    unigram = [0] * len(vocab)
    for byte in text:
        unigram[index[byte]] += 1
    bigram = [[0] * len(vocab) for _ in vocab]
    for prev, nxt in zip(text, text[1:]):
        bigram[index[prev]][index[nxt]] += 1
    return {
        "source": "tinyshakespeare.txt",
        "bytes": len(text),
        "sha256": hashlib.sha256(text).hexdigest(),
        "vocab": [chr(byte) for byte in vocab],
        "unigram_counts": unigram,
        "bigram_counts": bigram,
    }


def dump(tables: dict) -> str:
    # One bigram row per line keeps the file diffable without making it 4,000 lines long.
    lines = ["{"]
    for key in ("source", "bytes", "sha256", "vocab", "unigram_counts"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(tables[key], ensure_ascii=True)},")
    lines.append('  "bigram_counts": [')
    rows = [json.dumps(row, separators=(",", ":")) for row in tables["bigram_counts"]]
    lines.append(",\n".join("    " + row for row in rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} TINYSHAKESPEARE_TXT OUTPUT_JSON")
    with open(sys.argv[1], "rb") as f:
        text = f.read()
    if any(byte >= 128 for byte in text):
        sys.exit(f"{sys.argv[1]}: expected ASCII text")
    out = dump(derive(text))
    json.loads(out)  # the hand-formatted output must still be valid JSON
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(out)
    os.replace(tmp, sys.argv[2])  # never leave a half-written table behind


if __name__ == "__main__":
    main()
