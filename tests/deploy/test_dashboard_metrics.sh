#!/usr/bin/env bash
# Every metric that deploy/prometheus/rules.yml or a panel of
# deploy/grafana/jackpot.json names exists in a real engine's /metrics:
# `jackpot dev` (broker, registry, simulator, processor) runs one simulated
# week and /metrics is scraped until every required name has appeared.
# `up` is the only name Prometheus adds itself. Panels in the dashboard's
# "Planned" row use metrics other parts of the engine will export; they are
# listed, and a planned metric that now exists is reported so that its panel
# can move up.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${JACKPOT_BIN:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

/usr/bin/python3 "$here/promql_names.py" deploy/prometheus/rules.yml deploy/grafana/jackpot.json \
  >"$tmp/names" || fail "cannot extract metric names"
mapfile -t required < <(awk '$1 == "required" && $2 != "up" {print $2}' "$tmp/names" | sort -u)
mapfile -t planned < <(awk '$1 == "planned" {print $2}' "$tmp/names" | sort -u)
((${#required[@]} >= 10)) || fail "only ${#required[@]} metric names found: the extraction is broken"
for n in "${planned[@]}"; do
  grep -q "^required $n " "$tmp/names" && fail "$n is planned but also used outside the Planned row"
done

hp=$(free_port)
"$bin" dev --weeks 1 --port 0 --http "127.0.0.1:$hp" --speed 40000 --state "$tmp/state" \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
missing=("${required[@]}")
while kill -0 "$pid" 2>/dev/null && ((${#missing[@]})); do
  if curl -sf "http://127.0.0.1:$hp/metrics" -o "$tmp/m.new"; then
    mv "$tmp/m.new" "$tmp/metrics"
    left=()
    for n in "${missing[@]}"; do grep -q "^$n[{ ]" "$tmp/metrics" || left+=("$n"); done
    missing=("${left[@]}")
  fi
  sleep 0.5
done
[ -f "$tmp/metrics" ] || { tail -20 "$tmp/err"; fail "never scraped /metrics"; }
if ((${#missing[@]})); then
  for n in "${missing[@]}"; do grep "^required $n " "$tmp/names" | cut -d' ' -f3- | sed "s/^/missing $n: /"; done
  fail "${#missing[@]} metric(s) named by rules or dashboard are not in /metrics"
fi
echo "all ${#required[@]} metrics of the rules and the dashboard are exported"
for n in "${planned[@]}"; do
  if grep -q "^$n[{ ]" "$tmp/metrics"; then
    echo "planned metric $n is now exported: move its panel out of the Planned row"
  else
    echo "planned (not exported yet): $n"
  fi
done
