"""The partitioning contract with third-party producers (docs/schemas.md).

Two weeks of tests/configs/sim/partitioned.yaml (with duplicates, late,
out-of-order and broken records) are produced by `jackpot simulate`, keyed
by country with murmur2: a single correctly partitioned producer, the
reference. The same records, in the same order per country and with their
timestamps and headers, are then produced to three more dev brokers by the
clients' defaults and one configured client:
  - kafka-python's KafkaProducer, default partitioner (murmur2, as Java);
  - confluent-kafka's Producer, default partitioner (librdkafka's
    consistent_random: CRC-32);
  - confluent-kafka's Producer with partitioner=fnv1a_random (Sarama's
    FNV-1a).
An engine runs on each broker. Every engine must end with exactly the
reference's FeatureVector records (key and bytes) and the same counts of
applied, dead-lettered and duplicate records; the murmur2 producer's
records need no repartitioning, the other two's are repartitioned, every
copy received once.
"""
import sys

from confluent_kafka import Producer
from kafka import KafkaProducer

import jp_accept as ja

WORLD = "tests/configs/sim/partitioned.yaml"


def kafka_python(brokers):
    p = KafkaProducer(bootstrap_servers=brokers, api_version=(2, 5, 0), acks="all",
                      max_in_flight_requests_per_connection=1)

    def send(topic, key, value, ts, headers):
        p.send(topic, key=key, value=value, timestamp_ms=ts, headers=headers)

    return send, lambda: p.flush(60)


def confluent(brokers, partitioner=None):
    conf = {"bootstrap.servers": brokers, "enable.idempotence": True}
    if partitioner:
        conf["partitioner"] = partitioner
    p = Producer(conf)

    def send(topic, key, value, ts, headers):
        while True:
            try:
                p.produce(topic, key=key, value=value, timestamp=ts, headers=headers)
                return
            except BufferError:
                p.poll(0.1)

    return send, lambda: p.flush(60) == 0 or sys.exit("confluent producer: undelivered records")


def outcome(text):
    return {k: ja.metric_sum(text, "jackpot_records_%s_total" % k)
            for k in ("consumed", "applied", "dead_lettered", "duplicate", "repartitioned",
                      "repartition_received")}


def features(brokers):
    return sorted((k, v) for _, _, k, v, _, _ in ja.read_topic(brokers, "jackpot.features.v1"))


def main():
    with ja.Procs("partitioners") as procs:
        registry = procs.registry()
        ref_brokers = procs.broker("reference")
        n = procs.simulate(WORLD, ref_brokers, registry)
        inputs = {t: ja.read_topic(ref_brokers, t) for t in ja.INPUTS}
        assert sum(len(r) for r in inputs.values()) == n

        engine = procs.run(ref_brokers, registry, "reference")
        want = outcome(engine.wait_done(n))
        engine.stop()
        want_features = features(ref_brokers)
        assert want["repartitioned"] == 0 and want["applied"] > 0 and want["duplicate"] > 0
        assert want["dead_lettered"] > 0 and len(want_features) > 0
        print("reference (jackpot simulate, murmur2): %d records, %d features, %s" % (
            n, len(want_features), want))

        clients = [("kafka-python default", "kafka-python", lambda b: kafka_python(b), False),
                   ("confluent-kafka default", "confluent-default", lambda b: confluent(b), True),
                   ("confluent-kafka fnv1a_random", "confluent-fnv1a",
                    lambda b: confluent(b, "fnv1a_random"), True)]
        for label, group, make, mispartitions in clients:
            brokers = procs.broker(group)
            send, flush = make(brokers)
            # Partition by partition of the reference, in offset order: every
            # country's records keep their order.
            for topic, records in inputs.items():
                for _, _, key, value, ts, headers in records:
                    send(topic, key, value, ts, headers)
            flush()
            engine = procs.run(brokers, registry, group)
            got = outcome(engine.wait_done(n))
            engine.stop()
            got_features = features(brokers)
            print("%s: %d features, %s" % (label, len(got_features), got))
            for k in ("consumed", "applied", "dead_lettered", "duplicate"):
                assert got[k] == want[k], "%s: %s %s, reference %s" % (label, k, got[k], want[k])
            assert got["repartition_received"] == got["repartitioned"], label
            if mispartitions:
                assert got["repartitioned"] > 0, "%s: nothing was repartitioned" % label
            else:
                assert got["repartitioned"] == 0, "%s: murmur2 records repartitioned" % label
            assert got_features == want_features, "%s: features differ from the reference" % label
    print("murmur2, consistent_random and fnv1a producers end in the reference's features: ok")


if __name__ == "__main__":
    sys.exit(main())
