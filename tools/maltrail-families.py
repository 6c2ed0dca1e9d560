#!/usr/bin/env python3
"""Writes src/privacy/vocab/maltrail-families.txt: the family and category
names of Maltrail's static trails (https://github.com/stamparm/maltrail,
MIT licence), one lower-case name a line, for the default-deny vocabulary.

Maltrail-style feeds tag every trail with its file name (`ek_clearfake`,
`android_hydra`, `apt_unc6691`): these are labels of attacker tooling, the
intelligence the exchange exists to share. A name that is also a first name
of the gazetteer (src/privacy/first_names.txt) is left out, as the MISP
galaxy names are in tools/build-vocab.py.

Usage: tools/maltrail-families.py MALTRAIL_CHECKOUT
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    src = os.path.join(sys.argv[1], "trails", "static")
    first = {l.strip() for l in open(os.path.join(ROOT, "src/privacy/first_names.txt"), encoding="utf-8")}
    names = set()
    for kind in ("malware", "malicious", "suspicious"):
        for f in os.listdir(os.path.join(src, kind)):
            if f.endswith(".txt"):
                names.add(f[:-4].lower())
    kept = sorted(n for n in names if n not in first and not any(p in first for p in n.replace("-", "_").split("_")))
    out = os.path.join(ROOT, "src/privacy/vocab/maltrail-families.txt")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("".join(n + "\n" for n in kept))
    print(f"{len(kept)} names ({len(names) - len(kept)} left out as first names) -> {out}")


if __name__ == "__main__":
    main()
