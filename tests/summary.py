#!/usr/bin/env python3
"""Reads meson's testlog.json files and prints one line per test and the
closing "N passed, N failed, N skipped" line; exits 1 if anything failed.

A test that skipped (exit 77: all of it, or a part while the rest passed,
see tests/skip.h and tests/fuse/lib.sh) counts as skipped, never as
passed, and its "SKIP: ..." lines (the reasons) are printed under it."""
import json
import sys

passed = failed = skipped = 0
for arg in sys.argv[1:]:
    label, _, path = arg.partition("=")
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f"{label}: no test log ({path})")
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        result = t.get("result", "?")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
        print(f"{label:5} {result:8} {t.get('name')}")
        if result == "SKIP":
            out = (t.get("stdout") or "").splitlines()
            reasons = [l for l in out if l.startswith("SKIP")]
            for r in reasons[:5] or ["(no reason given)"]:
                print(f"               {r}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
