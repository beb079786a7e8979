#!/usr/bin/env bash
# `jackpot registry` (serving, export, import) and `jackpot broker` honour
# the log format of `jackpot run`: JACKPOT_LOG__FORMAT=json (the override of
# the configuration's log.format) makes every stderr line a JSON object with
# ts, level, component and msg - including the per-request lines of
# --verbose and librdkafka's own messages - and a bad value exits 78.
. "$(dirname "$0")/registry_lib.sh"

# every_line_json FILE WANT...: each line of FILE is a JSON log object and
# some line's msg contains each WANT.
every_line_json() {
    /usr/bin/python3 - "$@" <<'PY' || fail "not JSON log lines: $(cat "$1")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
msgs = []
for line in lines:
    o = json.loads(line)
    assert set(o) == {"ts", "level", "component", "msg"}, o
    assert o["level"] in ("debug", "info", "warn", "error"), o
    msgs.append(o["msg"])
for want in sys.argv[2:]:
    assert any(want in m for m in msgs), (want, msgs)
PY
}

JACKPOT_LOG__FORMAT=json start_registry "$tmp/r1" "$tmp/r1.out" --verbose
ct='Content-Type: application/vnd.schemaregistry.v1+json'
curl -sS -H "$ct" -X POST "$URL/subjects/s-value/versions" -d '{"schema":"\"int\""}' >/dev/null
curl -sS "$URL/nowhere" >/dev/null
JACKPOT_LOG__FORMAT=json "$JACKPOT" registry export --url "$URL" >"$tmp/export.json" 2>"$tmp/export.err" ||
    fail "export: $(cat "$tmp/export.err")"
every_line_json "$tmp/export.err" "exported: 1 versions of 1 subjects"
kill -TERM "$PID"; wait "$PID" || fail "registry exit $?"
every_line_json "$tmp/r1.out.err" "serving http://" "POST /subjects/s-value/versions -> 200" \
    "GET /nowhere -> 404" "received signal 15"

# The default stays text; the import side logs JSON too.
start_registry "$tmp/r2" "$tmp/r2.out"
grep -q ' info  registry: serving http://' "$tmp/r2.out.err" || fail "text format: $(cat "$tmp/r2.out.err")"
JACKPOT_LOG__FORMAT=json JACKPOT_LOG__LEVEL=debug "$JACKPOT" registry import --url "$URL" \
    "$tmp/export.json" 2>"$tmp/import.err" || fail "import: $(cat "$tmp/import.err")"
every_line_json "$tmp/import.err" "imported: 1 versions of 1 subjects"
JACKPOT_LOG__FORMAT=json "$JACKPOT" registry import --url "$URL" "$tmp/missing.json" 2>"$tmp/missing.err"
[ $? -eq 66 ] || fail "missing file must exit 66"
every_line_json "$tmp/missing.err" "missing.json"
kill -TERM "$PID"; wait "$PID" || fail "registry exit $?"

# A value run would reject is rejected here too.
JACKPOT_LOG__FORMAT=yaml "$JACKPOT" registry --listen 127.0.0.1:0 --data "$tmp/r3" 2>"$tmp/bad.err"
[ $? -eq 78 ] || fail "JACKPOT_LOG__FORMAT=yaml must exit 78"
grep -q 'JACKPOT_LOG__FORMAT' "$tmp/bad.err" || fail "bad value message: $(cat "$tmp/bad.err")"

# The broker: its own lines and the mock cluster's, in JSON.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
JACKPOT_LOG__FORMAT=json "$JACKPOT" broker --brokers 1 --port "$port" >"$tmp/b.out" 2>"$tmp/b.err" &
bpid=$!
pids+=("$bpid")
for _ in $(seq 100); do [ -s "$tmp/b.out" ] && break; sleep 0.1; done
[ -s "$tmp/b.out" ] || fail "broker did not start: $(cat "$tmp/b.err")"
kill -TERM "$bpid"; wait "$bpid" || fail "broker exit $?"
every_line_json "$tmp/b.err" "broker(s) up" "SIGTERM, stopping"
JACKPOT_LOG__FORMAT=yaml "$JACKPOT" broker --brokers 1 --port 0 >/dev/null 2>"$tmp/bb.err"
[ $? -eq 78 ] || fail "broker with JACKPOT_LOG__FORMAT=yaml must exit 78"
echo ok
