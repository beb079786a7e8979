#!/usr/bin/env bash
# Creates every topic jackpot-stream uses, idempotently, with Kafka's own
# kafka-topics.sh (the apache/kafka image has it in /opt/kafka/bin).
#   BOOTSTRAP   bootstrap servers (default kafka:9092)
#   PARTITIONS  input partitions = tasks (default 6); inputs, their dead-letter
#               topics and the changelogs all get this count (co-partitioned)
#   REPLICAS    replication factor (default 1; 3 on a production cluster)
#   CLIENT_CONFIG  optional properties file for TLS/SASL (--command-config)
#   GROUP, SHADOW_GROUP  the engines' kafka group.id (default jackpot-stream and
#               jackpot-stream-shadow): the repartition topics are named after them
# The names are the defaults of configs/jackpot.yaml and stream/config/jp_topics.c
# (changelog stores meta, windows, customers, dedupe, models, ledger, alerts;
# the repartition topic <changelog_prefix><group.id>-repartition).
set -euo pipefail
bs=${BOOTSTRAP:-kafka:9092}
p=${PARTITIONS:-6}
rf=${REPLICAS:-1}
kt=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
extra=()
[ -n "${CLIENT_CONFIG:-}" ] && extra=(--command-config "$CLIENT_CONFIG")
week=$((7 * 24 * 3600 * 1000))

create() { # name partitions config...
  local name=$1 parts=$2
  shift 2
  local cfg=()
  for c in "$@"; do cfg+=(--config "$c"); done
  "$kt" --bootstrap-server "$bs" "${extra[@]}" --create --if-not-exists --topic "$name" \
    --partitions "$parts" --replication-factor "$rf" "${cfg[@]}"
}

for input in lottery.sales.v1 lottery.customers.v1 lottery.draws.v1; do
  # inputs: 30 days, enough to rebuild state after a lost changelog
  create "$input" "$p" cleanup.policy=delete retention.ms=$((30 * 24 * 3600 * 1000))
  # dead letters keep the original bytes for inspection and replay: 90 days
  create "$input.dlq" "$p" cleanup.policy=delete retention.ms=$((90 * 24 * 3600 * 1000))
done
stores="meta windows customers dedupe models ledger alerts"
for store in $stores; do
  # changelogs are the state's log: compacted, never deleted by time
  create "jackpot.$store-changelog" "$p" cleanup.policy=compact min.compaction.lag.ms=60000
done
# records on another partition than their country's, on their way to its task
# (docs/processor.md, "Partitioning"): read within seconds; kept as long as
# the inputs, so an engine that was down can still take them in
create "jackpot.${GROUP:-jackpot-stream}-repartition" "$p" cleanup.policy=delete \
  retention.ms=$((30 * 24 * 3600 * 1000))
create jackpot.features.v1 1 cleanup.policy=delete retention.ms=$((4 * week))
create jackpot.recommendations.v1 1 cleanup.policy=compact,delete retention.ms=$((520 * week))
create jackpot.alerts.v1 1 cleanup.policy=compact,delete retention.ms=$((52 * week))
create jackpot.models.v1 1 cleanup.policy=compact
# shadow deployment outputs (deploy/k8s/shadow): same layout, shadow. prefix
if [ -n "${SHADOW:-}" ]; then
  for t in features recommendations alerts models; do
    create "shadow.jackpot.$t.v1" 1 cleanup.policy=delete retention.ms=$((2 * week))
  done
  for store in $stores; do
    create "shadow.jackpot.$store-changelog" "$p" cleanup.policy=compact
  done
  create "shadow.jackpot.${SHADOW_GROUP:-jackpot-stream-shadow}-repartition" "$p" \
    cleanup.policy=delete retention.ms=$((2 * week))
  for input in lottery.sales.v1 lottery.customers.v1 lottery.draws.v1; do
    create "$input.shadow-dlq" "$p" cleanup.policy=delete retention.ms=$((2 * week))
  done
fi
"$kt" --bootstrap-server "$bs" "${extra[@]}" --list
