#!/usr/bin/env bash
# `jackpot dev` end to end, checked from outside over real HTTP: /healthz,
# /readyz, /metrics (accepted by Prometheus' promtool), /v1/tasks,
# /v1/countries/<CC>/features, /recommendation and /whatif; SIGHUP reloads
# the country configurations;
# with --weeks it finishes by itself with a summary in which conservation
# holds; SIGTERM stops it cleanly within 10 s.
set -euo pipefail
bin=${JACKPOT_BIN:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "FAIL: $*"; echo "--- stderr"; tail -40 "$tmp/err" || true; exit 1; }
get() { curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$hp$1"; }

hp=$(free_port)
"$bin" dev --weeks 3 --port 0 --http "127.0.0.1:$hp" --speed 40000 --state "$tmp/state" \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!

for _ in $(seq 200); do [ "$(get /healthz || true)" = 200 ] && break; sleep 0.1; done
[ "$(cat "$tmp/body")" = ok ] || fail "/healthz"
grep -q "admin http://127.0.0.1:$hp" "$tmp/out" || fail "admin URL not printed"

for _ in $(seq 300); do [ "$(get /readyz || true)" = 200 ] && break; sleep 0.1; done
[ "$(get /readyz)" = 200 ] || fail "/readyz never became ready"

# Wait for closed windows, then check the feature endpoint of a country.
has_closed_hour() {
  /usr/bin/python3 -c 'import json,sys; sys.exit(0 if "hour" in json.load(open(sys.argv[1]))["last_closed"] else 1)' "$tmp/body" 2>/dev/null
}
for _ in $(seq 300); do
  [ "$(get /v1/countries/GB/features)" = 200 ] && has_closed_hour && break
  sleep 0.1
done
/usr/bin/python3 - "$tmp/body" <<'PY' || fail "/v1/countries/GB/features"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["country"] == "GB", d
h = d["last_closed"]["hour"]
assert h["window_end"] - h["window_start"] == 3600000, h
assert h["tickets"] > 0 and h["revenue_minor"] > 0, h
assert isinstance(d["open"], list)
PY
[ "$(get /v1/countries/XX/features)" = 404 ] || fail "unknown country is not 404"
[ "$(get /v1/nothing)" = 404 ] || fail "unknown path is not 404"

# The latest recommendation: the learning loop registers no model before
# models.min_training (28 days) of data, so in these three weeks the
# country's fallback rule decides and says why; what-ifs need a model.
for _ in $(seq 300); do [ "$(get /v1/countries/SE/recommendation)" = 200 ] && break; sleep 0.1; done
/usr/bin/python3 - "$tmp/body" <<'PY' || fail "/v1/countries/SE/recommendation"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["country"] == "SE" and d["status"] == "OK", d
assert d["prize_minor"] > 0 and d["draw_id"].startswith("SE-"), d
assert "no_model" in d["fallback_reason"], d
assert len(d["provenance"]["config_hash"]) == 64, d
PY
[ "$(get '/v1/countries/SE/whatif?prize=5000000')" = 404 ] || fail "what-if without a model is not 404"
grep -q '"error"' "$tmp/body" || fail "what-if 404 without an error message"
[ "$(get '/v1/countries/SE/whatif')" = 400 ] || fail "what-if without a prize is not 400"
[ "$(get /v1/countries/XX/recommendation)" = 404 ] || fail "unknown country's recommendation is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$hp/v1/countries/SE/recommendation")" = 405 ] ||
  fail "POST to a recommendation is not 405"

[ "$(get /v1/tasks)" = 200 ] || fail "/v1/tasks"
/usr/bin/python3 - "$tmp/body" <<'PY' || fail "/v1/tasks content"
import json, sys
tasks = json.load(open(sys.argv[1]))
assert len(tasks) == 6, len(tasks)
for t in tasks:
    assert [i["topic"] for i in t["inputs"]] == ["lottery.sales.v1", "lottery.customers.v1",
                                                 "lottery.draws.v1"], t
    for i in t["inputs"]:
        assert i["consumed"] == i["applied"] + i["dead_lettered"] + i["duplicates"], i
PY

[ "$(get /metrics)" = 200 ] || fail "/metrics"
promtool check metrics <"$tmp/body" >"$tmp/promtool" 2>&1 || { cat "$tmp/promtool"; fail "promtool rejected /metrics"; }
for m in jackpot_records_consumed_total jackpot_records_applied_total jackpot_commit_seconds_bucket \
         jackpot_consumer_lag_records jackpot_windows_closed_total jackpot_build_info \
         jackpot_restore_progress_ratio jackpot_assigned_tasks; do
  grep -q "^$m" "$tmp/body" || fail "metric $m missing"
done

kill -HUP "$pid"
for _ in $(seq 100); do grep -q 'country configurations reloaded' "$tmp/err" && break; sleep 0.1; done
grep -q 'country configurations reloaded' "$tmp/err" || fail "SIGHUP did not reload"

# --weeks: it stops by itself, with the summary.
wait "$pid" || fail "jackpot dev exited $?"
pid=
grep -q 'conservation: .*: holds' "$tmp/out" || fail "no summary with conservation"
# per country: the champion, the latest recommendation and why
grep -q '^  SE   champion: ' "$tmp/out" || fail "no champion line for SE in the summary"
grep -q '^       recommendation for SE-.*; why: fallback rule (no_model: ' "$tmp/out" ||
  fail "no recommendation line for SE with its reason in the summary"

# SIGTERM: a clean stop within 10 s.
"$bin" dev --port 0 --http "127.0.0.1:$hp" --speed 40000 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 300); do [ "$(get /readyz || true)" = 200 ] && break; sleep 0.1; done
kill -TERM "$pid"
start=$(date +%s)
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
[ $(( $(date +%s) - start )) -le 10 ] || fail "SIGTERM took more than 10 s"
echo "jackpot dev + admin HTTP: ok"
