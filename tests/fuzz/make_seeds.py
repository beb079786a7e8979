#!/usr/bin/python3
"""Writes the generated part of the fuzz seed corpora (tests/fuzz/corpus/):

- avro_schema/: each schema pair of tests/fixtures/avro/compat.json as
  "new NUL old", plus the poison schema of issue 15 and a recursive record.
  scripts/fuzz adds the schemas of schemas/ at run time.

The other seeds are either repository files added by scripts/fuzz (configs,
schemas), hand-written request scripts (registry_http/), or records written
by make_serde_seeds (serde_decode/). Run from the repository root.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "avro_schema")

os.makedirs(OUT, exist_ok=True)
cases = json.load(open(os.path.join(ROOT, "tests", "fixtures", "avro", "compat.json")))["cases"]
for case in cases:
    pair = json.dumps(case["new"]) + "\0" + json.dumps(case["old"])
    with open(os.path.join(OUT, "pair-" + case["id"]), "w") as f:
        f.write(pair)
extra = {
    "poison-empty-union": {"type": "record", "name": "P",
                           "fields": [{"name": "c", "type": [], "default": None}]},
    "recursive-list": {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "long"},
        {"name": "next", "type": ["null", "Node"], "default": None},
        {"name": "kids", "type": {"type": "array", "items": "Node"}, "default": [{"value": 1, "kids": []}]}]},
}
for name, schema in extra.items():
    with open(os.path.join(OUT, name), "w") as f:
        f.write(json.dumps(schema))
print("%d seeds in %s" % (len(cases) + len(extra), OUT))
