#!/usr/bin/env bash
# `jackpot dev --state DIR`, run as a user would: it stops only once it has
# consumed what the simulator wrote, on every input partition (the summary's
# written and consumed are compared here, not just the conservation line);
# read-only admin routes refuse other methods with 405; a second run with
# the same state directory (a new dev cluster) is refused with exit 78 and
# a message saying why (both cluster ids) and what to do; with --reset it
# runs.
set -euo pipefail
bin=${JACKPOT_BIN:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out" || true; echo "--- stderr"; tail -20 "$tmp/err" || true; exit 1; }

# The summary's counts: written, consumed.
check_summary() {
  /usr/bin/python3 - "$tmp/out" <<'PY' || fail "summary"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"summary: (\d+) simulated records written, (\d+) consumed", text)
assert m, text
written, consumed = int(m.group(1)), int(m.group(2))
assert written > 0 and written == consumed, (written, consumed)
assert "written = consumed + lost on every input partition: holds (0 lost" in text, text
assert re.search(r"conservation: .*: holds", text), text
PY
}

hp=$(free_port)
"$bin" dev --weeks 1 --port 0 --http "127.0.0.1:$hp" --speed 40000 --state "$tmp/state" \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hp/healthz" || true)" = 200 ] && break
  sleep 0.1
done
for route in /readyz /v1/tasks /v1/countries/GB/features /metrics /healthz; do
  code=$(curl -s -o /dev/null -D "$tmp/headers" -w '%{http_code}' -X POST "http://127.0.0.1:$hp$route")
  [ "$code" = 405 ] || fail "POST $route answered $code, not 405"
  grep -qi '^Allow: GET, HEAD' "$tmp/headers" || fail "POST $route: no Allow header"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$hp/v1/tasks")
[ "$code" = 405 ] || fail "DELETE /v1/tasks answered $code"
wait "$pid" || fail "first run exited $?"
pid=
check_summary

# The same state directory against a new dev cluster: refused.
set +e
"$bin" dev --weeks 1 --port 0 --http 127.0.0.1:0 --speed 40000 --state "$tmp/state" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 78 ] || fail "second run exited $rc, not 78"
# Both cluster ids are named - unless the two dev clusters got the same id
# (the mock cluster's id is an address: the same in every run when ASLR is
# off, as under ASan), when the state's offsets beyond the new topics' ends
# give it away.
grep -q "was written against Kafka cluster mockCluster[0-9a-f]*.* is cluster mockCluster" "$tmp/err" \
  || grep -q "was written against another lottery\.[a-z]*\.v1: task [0-9]* has read" "$tmp/err" \
  || fail "the refusal does not say why"
grep -q -- "--reset" "$tmp/err" || fail "the refusal does not say how to reset"

# ... unless told to reset.
"$bin" dev --weeks 1 --port 0 --http 127.0.0.1:0 --speed 40000 --state "$tmp/state" --reset \
  >"$tmp/out" 2>"$tmp/err" || fail "run with --reset exited $?"
grep -q "state directory .* reset" "$tmp/err" || fail "the reset is not logged"
check_summary
echo ok
