#!/bin/bash
# `jackpot registry` as an operator runs it: help and usage errors, the URL
# line with an ephemeral port, curl against it, clean exit on SIGINT and
# SIGTERM, the exit codes for an address in use and an unusable data
# directory, and export/import usage errors.
. "$(dirname "$0")/registry_lib.sh"

"$JACKPOT" registry --help | grep -q '^usage: jackpot registry' || fail "--help"
"$JACKPOT" registry --bogus >/dev/null 2>&1; [ $? -eq 64 ] || fail "unknown option must exit 64"
"$JACKPOT" registry extra >/dev/null 2>&1; [ $? -eq 64 ] || fail "extra argument must exit 64"
"$JACKPOT" help | grep -q 'registry' || fail "registry missing from jackpot help"

start_registry "$tmp/data" "$tmp/out1" --verbose
[[ $URL =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "bad URL line: $URL"
port=${URL##*:}
[ "$port" -ne 0 ] || fail "port 0 was printed instead of the bound port"

ct='Content-Type: application/vnd.schemaregistry.v1+json'
reply=$(curl -sS -H "$ct" -X POST "$URL/subjects/cli-value/versions" \
    -d '{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}')
[ "$reply" = '{"id":1}' ] || fail "register: $reply"
headers=$(curl -sS -D - -o /dev/null "$URL/schemas/ids/1")
grep -qi '^content-type: application/vnd.schemaregistry.v1+json' <<<"$headers" || fail "content type: $headers"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/schemas/ids/2")
[ "$code" = 404 ] || fail "missing id gave $code"
grep -q 'POST /subjects/cli-value/versions -> 200' "$tmp/out1.err" || fail "--verbose request log"

# The same address again: cannot listen (69).
"$JACKPOT" registry --listen "127.0.0.1:$port" --data "$tmp/other" >/dev/null 2>&1
[ $? -eq 69 ] || fail "address in use must exit 69"
# The same data directory again: locked (73).
"$JACKPOT" registry --listen 127.0.0.1:0 --data "$tmp/data" >/dev/null 2>"$tmp/lock.err"
[ $? -eq 73 ] || fail "second process on one data dir must exit 73"
grep -q 'in use' "$tmp/lock.err" || fail "lock message: $(cat "$tmp/lock.err")"

kill -INT "$PID"; wait "$PID"; [ $? -eq 0 ] || fail "SIGINT must exit 0"

# Restart on the same data: the schema is still there; SIGTERM exits 0.
start_registry "$tmp/data" "$tmp/out2"
reply=$(curl -sS "$URL/subjects/cli-value/versions")
[ "$reply" = '[1]' ] || fail "after restart: $reply"
# export/import usage, and an export that cannot be written (74).
"$JACKPOT" registry export --url "$URL" extra >/dev/null 2>&1; [ $? -eq 64 ] || fail "export extra argument must exit 64"
"$JACKPOT" registry import --url "$URL" >/dev/null 2>&1; [ $? -eq 64 ] || fail "import without FILE must exit 64"
"$JACKPOT" registry export --url "$URL" >/dev/full 2>"$tmp/full.err"; [ $? -eq 74 ] || fail "export to a full disk must exit 74"
grep -q 'cannot write to stdout' "$tmp/full.err" || fail "write error message: $(cat "$tmp/full.err")"
kill -TERM "$PID"; wait "$PID"; [ $? -eq 0 ] || fail "SIGTERM must exit 0"

# Unusable data directory and listen address.
touch "$tmp/file"
"$JACKPOT" registry --listen 127.0.0.1:0 --data "$tmp/file/sub" >/dev/null 2>&1
[ $? -eq 73 ] || fail "unusable data dir must exit 73"
"$JACKPOT" registry --listen nonsense --data "$tmp/d3" >/dev/null 2>&1
[ $? -eq 64 ] || fail "bad listen address must exit 64"
echo "ok"
