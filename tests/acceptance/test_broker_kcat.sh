#!/usr/bin/env bash
# kcat (a third-party librdkafka CLI) against `jackpot broker`: lists the
# configured topics with their partition counts, produces and consumes
# keyed records, and the broker stops cleanly (exit 0) on SIGTERM.
set -euo pipefail
bin=${JACKPOT_BIN:?}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" broker --brokers 2 --port "$port" >"$tmp/out" 2>"$tmp/err" &
pid=$!
# generous: a loaded CI machine starts the broker slowly
for _ in $(seq 600); do [ -s "$tmp/out" ] && break; sleep 0.1; done
boot=$(head -1 "$tmp/out")
[ "$boot" = "127.0.0.1:$port,127.0.0.1:$((port + 1))" ] || { echo "bootstraps: '$boot'"; cat "$tmp/err"; exit 1; }

kcat -b "$boot" -L -J >"$tmp/md.json"
/usr/bin/python3 - "$tmp/md.json" <<'PY'
import json, sys
md = json.load(open(sys.argv[1]))
parts = {t["topic"]: len(t["partitions"]) for t in md["topics"]}
for t in ["lottery.sales.v1", "lottery.customers.v1", "lottery.draws.v1",
          "lottery.sales.v1.dlq", "lottery.customers.v1.dlq", "lottery.draws.v1.dlq"]:
    assert parts.get(t) == 6, (t, parts.get(t))
for t in ["jackpot.recommendations.v1", "jackpot.alerts.v1", "jackpot.features.v1", "jackpot.models.v1"]:
    assert parts.get(t) == 1, (t, parts.get(t))
assert len(md["brokers"]) == 2
PY

for i in $(seq 1 20); do echo "GB:sale-$i"; done | kcat -b "$boot" -P -t lottery.sales.v1 -K:
kcat -b "$boot" -C -t lottery.sales.v1 -o beginning -e -q -f '%k %s\n' >"$tmp/got"
[ "$(wc -l <"$tmp/got")" -eq 20 ] || { echo "consumed:"; cat "$tmp/got"; exit 1; }
grep -qx 'GB sale-20' "$tmp/got"

kill -TERM "$pid"
wait "$pid"
grep -q 'SIGTERM, stopping' "$tmp/err"
echo "broker + kcat: ok"
