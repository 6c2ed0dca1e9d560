#!/usr/bin/env python3
"""Loads a tamis MISP feed export (a directory with manifest.json, hashes.csv
and the event files) with PyMISP, strictly, and checks that PyMISP computes
the same manifest entries and attribute hashes as the exchange served (what
PyMISP's own feed generator, pymisp.tools.feed, would write). Prints OK."""

import json
import sys
from pathlib import Path

from pymisp import MISPEvent


def main() -> int:
    d = Path(sys.argv[1])
    manifest = json.loads((d / "manifest.json").read_text())
    served_hashes = set((d / "hashes.csv").read_text().split())
    failures, hashes = [], set()
    for uuid, meta in manifest.items():
        event = MISPEvent(strict_validation=True)
        event.load_file(str(d / f"{uuid}.json"))  # raises on an unknown type or a bad type/category pair
        ours = event.manifest[uuid]
        for key in ("Orgc", "Tag", "info", "date", "analysis", "threat_level_id"):
            if ours[key] != meta[key]:
                failures.append(f"{uuid}: manifest {key}: served {meta[key]!r}, PyMISP {ours[key]!r}")
        if int(ours["timestamp"]) != int(meta["timestamp"]):
            failures.append(f"{uuid}: timestamp {meta['timestamp']} vs {ours['timestamp']}")
        hashes |= {f"{h},{event.uuid}" for h in event.attributes_hashes("md5")}
        print(f"event {uuid}: {len(event.attributes)} attributes, types {sorted({a.type for a in event.attributes})}")
    if hashes != served_hashes:
        failures.append(f"hashes.csv differs: served {len(served_hashes)}, PyMISP {len(hashes)}")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("OK: PyMISP loads every event and recomputes the manifest and hashes.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
