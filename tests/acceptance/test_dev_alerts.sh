#!/usr/bin/env bash
# `jackpot dev` on tests/configs/sim/alerts.yaml (GB's tickets per sign-up
# shift at week 5, NO's sales silent for a week, faults everywhere) prints
# each alert as it is raised - FIRING and RESOLVED lines with severity,
# name, country, labels and event time - and ends with the detection delays
# against the world's documented changes. With alerts.enabled false there
# is no alerts processor and no alert line.
set -euo pipefail
bin=${JACKPOT_BIN:?}
src=${JACKPOT_SRC:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; tail -20 "$tmp/err"; exit 1; }

JACKPOT_ALERTS__FEATURE_DRIFT__REFERENCE_DAYS=21 \
  "$bin" dev --world "$src/tests/configs/sim/alerts.yaml" --speed 300000 --port 0 \
  --http 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" || fail "jackpot dev exited $?"

grep -Eq '^FIRING +warning +FeatureDrift +GB feature=tickets_per_signup 2026-02-1[0-2] ' "$tmp/out" \
  || fail "no FeatureDrift line for GB"
grep -Eq '^FIRING +critical +SilentSource +NO input=sales 2026-02-09 ' "$tmp/out" \
  || fail "no FIRING SilentSource line for NO"
grep -Eq '^RESOLVED +critical +SilentSource +NO input=sales 2026-02-16 ' "$tmp/out" \
  || fail "no RESOLVED SilentSource line for NO"
grep -Eq '^FIRING +warning +DeadLetterRateHigh +- +input=sales partition=[0-9]' "$tmp/out" \
  || fail "no DeadLetterRateHigh line"
# The lines come as they are raised, before the summary.
[ "$(grep -n 'FeatureDrift' "$tmp/out" | head -1 | cut -d: -f1)" -lt \
  "$(grep -n '^summary:' "$tmp/out" | cut -d: -f1)" ] || fail "alert lines after the summary"
grep -q "detection delays against the world's changes" "$tmp/out" || fail "no delays in the summary"
grep -Eq 'week 5 GB feature_shift tickets_mean +FeatureDrift feature=tickets_per_signup after [0-3]\.[0-9] days' \
  "$tmp/out" || fail "no delay for GB's change"
grep -Eq 'week 5 NO silence sales +SilentSource input=sales after 1\.0 days' "$tmp/out" \
  || fail "no delay for NO's silence"

JACKPOT_ALERTS__ENABLED=false "$bin" dev --world "$src/tests/configs/sim/alerts.yaml" --weeks 6 \
  --speed 300000 --port 0 --http 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" || fail "jackpot dev exited $?"
grep -q '^summary:' "$tmp/out" || fail "no summary without alerts"
! grep -Eq '^(FIRING|RESOLVED) ' "$tmp/out" || fail "alert lines with alerts.enabled false"
grep -Eq 'week 5 NO silence sales +not detected' "$tmp/out" || fail "the delays do not say 'not detected'"
echo "jackpot dev: alert lines and detection delays ok"
