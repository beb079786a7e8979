#!/usr/bin/env python3
"""Metric names used by the Prometheus rules and the Grafana dashboard.

Usage: promql_names.py RULES.yml DASHBOARD.json
Prints one line per name: "<required|planned|recorded> <name> <where>".
Names come from PromQL expressions: string literals, label matchers,
range selectors, grouping clauses and $variables are removed, and every
identifier left that is not a function call, keyword or number is a
metric name. Names of recording rules (they contain ':') are "recorded"
and must be defined in RULES.yml; label_values() of a template variable
names a required metric.
Dashboard panels that follow a row titled "Planned..." are "planned".
"""
import json
import re
import sys

import yaml

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "le"}


def names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\$\w+", "", e)
    out = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        out.add(word)
    return out


def main():
    rules_path, dash_path = sys.argv[1], sys.argv[2]
    rows, recorded = [], set()
    groups = yaml.safe_load(open(rules_path))["groups"]
    for group in groups:
        recorded |= {r["record"] for r in group["rules"] if "record" in r}
    for group in groups:
        for rule in group["rules"]:
            where = f"{rules_path}: {rule.get('alert') or rule.get('record')}"
            for n in names(rule["expr"]):
                rows.append(("recorded" if ":" in n else "required", n, where))
    dash = json.load(open(dash_path))
    for var in dash.get("templating", {}).get("list", []):
        m = re.match(r"\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", var.get("definition", ""))
        if m:
            rows.append(("required", m.group(1), f"{dash_path}: variable {var['name']}"))
    planned = False
    for p in dash["panels"]:
        if p.get("type") == "row":
            planned = p.get("title", "").lower().startswith("planned")
            continue
        for t in p.get("targets", []):
            for n in names(t.get("expr", "")):
                rows.append(("planned" if planned else "required", n,
                             f"{dash_path}: panel '{p['title']}'"))
    for kind, n, where in sorted(set(rows)):
        if kind == "recorded" and n not in recorded:
            sys.exit(f"{where}: {n} is not a recording rule of {rules_path}")
        print(kind, n, where)


if __name__ == "__main__":
    main()
