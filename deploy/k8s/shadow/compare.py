#!/usr/bin/env python3
"""Shadow canary check: diff the shadow deployment's recommendations and
alerts against the live ones, by record key.

Input: two JSON-lines files written by `jackpot tail TOPIC --from-beginning`
for the live and the shadow topic (one object per record, "key" and the
decoded "value"). The last record of each key wins (the topics are
compacted by key). Prints one line per difference and a summary; exits 1
when they disagree beyond the tolerances, 0 otherwise, 2 on bad input.

  compare.py --kind recommendations --live live.jsonl --shadow shadow.jsonl
             [--prize-tolerance 0.05]
  compare.py --kind alerts --live live.jsonl --shadow shadow.jsonl
"""
import argparse
import json
import sys


def latest(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
            if "value" not in rec:  # undecodable record: jackpot tail names the error
                sys.exit(f"{path}:{n}: record without a decoded value: {rec.get('error')}")
            out[json.dumps(rec.get("key"), sort_keys=True)] = rec["value"]
    return out


def compare_recommendations(live, shadow, tol):
    problems = []
    for key in sorted(set(live) | set(shadow)):
        a, b = live.get(key), shadow.get(key)
        if a is None or b is None:
            problems.append(f"{key}: only in {'shadow' if a is None else 'live'}")
            continue
        if a.get("draw_id") != b.get("draw_id"):
            continue  # not the same decision yet; compared once both decided it
        if a.get("status") != b.get("status"):
            problems.append(f"{key} draw {a.get('draw_id')}: status {a.get('status')} -> {b.get('status')}")
        pa, pb = a.get("prize_minor", 0), b.get("prize_minor", 0)
        if abs(pb - pa) > tol * max(abs(pa), 1):
            problems.append(f"{key} draw {a.get('draw_id')}: prize_minor {pa} -> {pb} "
                            f"({(pb - pa) / max(abs(pa), 1):+.1%})")
    return problems


def compare_alerts(live, shadow):
    firing = lambda recs: {k for k, v in recs.items() if v.get("status") == "FIRING"}
    fl, fs = firing(live), firing(shadow)
    return ([f"{k}: firing in live only" for k in sorted(fl - fs)] +
            [f"{k}: firing in shadow only" for k in sorted(fs - fl)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kind", choices=["recommendations", "alerts"], required=True)
    p.add_argument("--live", required=True)
    p.add_argument("--shadow", required=True)
    p.add_argument("--prize-tolerance", type=float, default=0.05,
                   help="largest accepted relative prize difference (default 0.05)")
    a = p.parse_args()
    live, shadow = latest(a.live), latest(a.shadow)
    if a.kind == "recommendations":
        problems = compare_recommendations(live, shadow, a.prize_tolerance)
    else:
        problems = compare_alerts(live, shadow)
    for line in problems:
        print(line)
    print(f"{a.kind}: {len(live)} live keys, {len(shadow)} shadow keys, "
          f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
