# Shared by the shell acceptance tests that run `jackpot registry`; source
# it (it is not a test itself). Sets JACKPOT, tmp (removed at exit), and
# provides fail, and start_registry which records every pid for cleanup.
set -u
JACKPOT=${JACKPOT_BIN:-build/release/jackpot}
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_registry DIR OUTFILE [ARGS...]: sets PID and URL; the registry's
# stdout goes to OUTFILE, its stderr to OUTFILE.err. Environment for the
# registry: put it in front of the call (VAR=value start_registry ...).
start_registry() {
    local dir=$1 out=$2
    shift 2
    "$JACKPOT" registry --listen 127.0.0.1:0 --data "$dir" "$@" >"$out" 2>"$out.err" &
    PID=$!
    pids+=("$PID")
    for _ in $(seq 100); do
        grep -q '^listening on ' "$out" 2>/dev/null && break
        sleep 0.05
    done
    URL=$(sed -n 's/^listening on //p' "$out")
    [ -n "$URL" ] || fail "no URL printed: $(cat "$out.err")"
}
