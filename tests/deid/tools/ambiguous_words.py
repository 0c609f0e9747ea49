#!/usr/bin/env python3
"""Writes src/deid/data/common_words.txt: lexicon entries (first names, surnames, cities) that
are also ordinary lowercase English words in Debian's wamerican list (/usr/share/dict/
american-english, SCOWL). Such a word ("Will", "Bill", "Young", "Mobile") counts as a name only
with context. Deterministic: python3 ambiguous_words.py <repo root>."""
import sys, pathlib
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
data = root / "src/deid/data"
words = set()
for w in open("/usr/share/dict/american-english", encoding="utf-8"):
    w = w.strip()
    if w and w[0].islower() and "'" not in w:
        words.add(w)
lex = set()
for f in ("first_names.txt", "last_names.txt", "cities.txt", "counties.txt"):
    for line in open(data / f, encoding="utf-8"):
        lex.add(line.strip().lower())
out = sorted(w for w in words if w in lex)
(data / "common_words.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
print(len(out), "ambiguous words")
