#!/usr/bin/env bash
# Static validation of everything deploy/, terraform/, docker-compose.yml and
# .github/ hold, with real validators (a missing one fails the test):
# promtool (config, rules, rule unit tests), dockerfilelint, docker-compose
# config, yamllint, kubernetes-models schemas, @cdktf/hcl2json, action-validator,
# `jackpot config check` on every processor config a deployment mounts, and
# the shadow comparison script on sample dumps.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${JACKPOT_BIN:?}
need promtool docker-compose yamllint node dockerfilelint action-validator
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "== $*"; }

step "promtool: rules, unit tests, compose Prometheus config"
promtool check rules deploy/prometheus/rules.yml
promtool test rules deploy/prometheus/rules.test.yml
sed "s|/etc/prometheus/rules.yml|$PWD/deploy/prometheus/rules.yml|" deploy/prometheus/prometheus.yml >"$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml"

step "dockerfilelint deploy/Dockerfile"
"$(tool dockerfilelint)" deploy/Dockerfile
grep -q '^USER 10001' deploy/Dockerfile || fail "the runtime stage must not run as root"
grep -q '^HEALTHCHECK' deploy/Dockerfile || fail "no HEALTHCHECK"

step "docker-compose config"
docker-compose -f docker-compose.yml config -q

step "yamllint"
mapfile -t yamls < <(git ls-files -co --exclude-standard 'deploy/*.yml' 'deploy/*.yaml' \
  docker-compose.yml '.github/*.yml')
yamllint -s -c "$here/yamllint.yml" "${yamls[@]}"

step "Grafana dashboard JSON"
/usr/bin/python3 - deploy/grafana/jackpot.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
assert d["uid"] and d["title"], "uid and title needed for provisioning"
for p in d["panels"]:
    if p["type"] != "row":
        assert p["targets"] and all(t["expr"] for t in p["targets"]), p["title"]
PY

step "kubernetes-models: deploy/k8s"
node "$here/k8s_validate.mjs" "$PWD"

step "jackpot config check: every processor config a deployment mounts"
mkdir -p "$tmp/secrets"
for s in pii-token-key admin-jwt-key kafka-password registry-basic-auth; do
  head -c 48 /dev/urandom | base64 >"$tmp/secrets/$s"
done
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$tmp/secrets/dlq-key"
/usr/bin/python3 - "$tmp" deploy/k8s/configmap.yaml deploy/k8s/shadow/configmap.yaml <<'PY'
import sys, yaml
tmp = sys.argv[1]
for i, path in enumerate(sys.argv[2:]):
    text = yaml.safe_load(open(path))["data"]["jackpot.yaml"]
    open(f"{tmp}/k8s-{i}.yaml", "w").write(text.replace("/run/secrets/jackpot/", f"{tmp}/secrets/"))
PY
# `jackpot run` refuses to start without these two keys; `config check` does not ask for them
for cfg in "$tmp"/k8s-*.yaml deploy/compose/jackpot.yaml; do
  /usr/bin/python3 - "$cfg" <<'PY' || fail "$cfg lacks a key that jackpot run requires"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for section, key in (("pii", "token_key_file"), ("dead_letters", "key_file")):
    assert (c.get(section) or {}).get(key), f"{sys.argv[1]}: no {section}.{key}"
PY
done
for cfg in "$tmp"/k8s-*.yaml deploy/compose/jackpot.yaml; do
  JACKPOT_PII__TOKEN_KEY_FILE=$tmp/secrets/pii-token-key \
  JACKPOT_HTTP__JWT_KEY_FILE=$tmp/secrets/admin-jwt-key \
  JACKPOT_DEAD_LETTERS__KEY_FILE=$tmp/secrets/dlq-key \
  JACKPOT_COUNTRIES__DIR=$PWD/configs/countries \
    "$bin" config check -c "$cfg" >/dev/null || fail "$cfg (from its deployment) does not load"
done

step "@cdktf/hcl2json: terraform"
node "$here/terraform_check.js" terraform

step "action-validator: .github/workflows"
for w in .github/workflows/*.yml; do "$(tool action-validator)" "$w"; done

step "shadow comparison script"
cmp_py=deploy/k8s/shadow/compare.py
rec() { printf '{"topic":"t","partition":0,"offset":%d,"key":"%s","value":{"draw_id":"%s","prize_minor":%d,"status":"OK"}}\n' "$@"; }
{ rec 0 GB d1 100000; rec 1 GB d2 120000; rec 2 NL d2 500000; } >"$tmp/live.jsonl"
{ rec 0 GB d2 121000; rec 1 NL d2 500000; } >"$tmp/same.jsonl"
{ rec 0 GB d2 150000; rec 1 NL d2 500000; } >"$tmp/diff.jsonl"
/usr/bin/python3 "$cmp_py" --kind recommendations --live "$tmp/live.jsonl" --shadow "$tmp/same.jsonl" \
  || fail "compare.py: a 0.8% prize difference is within the 5% tolerance"
if /usr/bin/python3 "$cmp_py" --kind recommendations --live "$tmp/live.jsonl" --shadow "$tmp/diff.jsonl" >"$tmp/out"; then
  fail "compare.py accepted a 25% prize difference"
fi
grep -q 'prize_minor 120000 -> 150000' "$tmp/out" || fail "compare.py did not name the difference"
alert() { printf '{"key":"%s","value":{"status":"%s"}}\n' "$@"; }
{ alert f1 FIRING; alert f2 RESOLVED; } >"$tmp/a-live.jsonl"
{ alert f2 FIRING; } >"$tmp/a-shadow.jsonl"
if /usr/bin/python3 "$cmp_py" --kind alerts --live "$tmp/a-live.jsonl" --shadow "$tmp/a-shadow.jsonl" >"$tmp/out"; then
  fail "compare.py accepted different firing alerts"
fi
[ "$(grep -c 'firing in' "$tmp/out")" = 2 ] || fail "compare.py: expected two alert differences"
echo "static validation: all passed"
