"""Key formats with Debian's python3-confluent-kafka (docs/schemas.md):
AvroProducer for the inputs, AvroConsumer for the outputs.

Two simulated weeks (tests/configs/sim/quarter.yaml) is produced by `jackpot
simulate` (string keys, murmur2) to a reference broker and processed there
(output_key_format: string). Its input records, decoded by the client's
MessageSerializer, are produced again to a second broker by the legacy
AvroProducer with an Avro "string" key schema, as Confluent's examples do:
framed keys, partitioned by librdkafka's default over the framed bytes, so
the engine there takes Avro keys and repartitions every record. That engine
writes Avro keys (topics.output_key_format: avro): AvroConsumer reads its
features, each key the country of its value, each window the reference's
byte for byte (the reference may have closed a country's last window
already), and the key subject holds the schema "string". On the
reference's string keys AvroConsumer fails, which is why the option exists.
"""
import json
import os
import sys

from confluent_kafka import avro
from confluent_kafka.avro import AvroConsumer, AvroProducer, CachedSchemaRegistryClient
from confluent_kafka.avro.serializer import SerializerError
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

import jp_accept as ja

WORLD = "tests/configs/sim/quarter.yaml"
SCHEMAS = {"lottery.sales.v1": "SaleEvent.avsc", "lottery.customers.v1": "CustomerEvent.avsc",
           "lottery.draws.v1": "DrawResult.avsc"}
FEATURES = "jackpot.features.v1"


def decoded_inputs(brokers, registry):
    """The input records as the client's legacy serializer decodes them:
    (topic, key, dict, timestamp)."""
    serializer = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
    return [(topic, k.decode(), serializer.decode_message(v, is_key=False), ts)
            for topic in SCHEMAS for _, _, k, v, ts, _ in ja.read_topic(brokers, topic)]


def compare_features(registry, ref, got):
    """Every window the engine on Avro keys closed, the reference closed with
    the same bytes. The reference may have closed more: the last windows of
    a country and kind, which the copies of that country alone have not
    passed yet at the end of the input (the reference's partition also
    carried another country's clock; docs/processor.md, "Partitioning")."""
    ser = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))

    def by_window(records):
        out = {}
        for _, _, _, v, _, _ in records:
            f = ser.decode_message(v)
            out[(f["country"], f["window_kind"], f["window_start"])] = v
        return out

    want, have = by_window(ref), by_window(got)
    for w, v in have.items():
        assert want.get(w) == v, "window %s differs from the reference's" % (w,)
    # per country and kind, the missing windows are the last ones
    closed_to = {}
    for c, k, start in have:
        closed_to[(c, k)] = max(closed_to.get((c, k), start), start)
    missing = sorted(w for w in want if w not in have)
    for c, k, start in missing:
        assert (c, k) in closed_to and start > closed_to[(c, k)], (
            "window %s missing, but a later one closed" % ((c, k, start),))
    assert len(missing) < len(want) / 10, "%d of %d windows missing" % (len(missing), len(want))
    print("features: %d, the reference's %d; not closed yet: %s" % (
        len(have), len(want), ", ".join("%s %s from %s" % (c, k, s) for c, k, s in
                                        [m for i, m in enumerate(missing)
                                         if i == 0 or missing[i - 1][:2] != m[:2]])))


def avro_consume(brokers, registry, topic, count):
    """count records of topic through AvroConsumer: [(key, value)], or the
    SerializerError it raised."""
    c = AvroConsumer({"bootstrap.servers": brokers, "group.id": "jp-avro-consumer",
                      "schema.registry.url": registry, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    try:
        while len(got) < count:
            m = c.poll(5)
            if m is None or m.error():
                continue
            got.append((m.key(), m.value()))
    except SerializerError as e:
        return e
    finally:
        c.close()
    return got


def main():
    with ja.Procs("avro-keys") as procs:
        registry = procs.registry()
        ref_brokers = procs.broker("string-keys")
        n = procs.simulate(WORLD, ref_brokers, registry, ["--weeks", "2"])
        engine = procs.run(ref_brokers, registry, "string-keys")
        engine.wait_done(n)
        engine.stop()
        ref = ja.read_topic(ref_brokers, FEATURES)
        assert ref, "the reference closed no window"

        # The legacy AvroProducer, an Avro "string" key schema.
        brokers = procs.broker("avro-keys")
        key_schema = avro.loads('"string"')
        value_schemas = {t: avro.load(os.path.join(ja.SRC, "schemas", f))
                         for t, f in SCHEMAS.items()}
        producer = AvroProducer({"bootstrap.servers": brokers, "schema.registry.url": registry},
                                default_key_schema=key_schema)
        records = decoded_inputs(ref_brokers, registry)
        assert len(records) == n
        for topic, key, value, ts in records:
            producer.produce(topic=topic, key=key, value=value, value_schema=value_schemas[topic],
                             timestamp=ts)
            producer.poll(0)
        assert producer.flush(60) == 0
        del producer
        raw = ja.read_topic(brokers, "lottery.sales.v1")
        assert all(k[0] == 0 and len(k) > 5 for _, _, k, _, _, _ in raw), "keys are not Avro"

        engine = procs.run(brokers, registry, "avro-keys",
                           {"JACKPOT_TOPICS__OUTPUT_KEY_FORMAT": "avro"})
        text = engine.wait_done(n)
        engine.stop()
        repartitioned = ja.metric_sum(text, "jackpot_records_repartitioned_total")
        assert repartitioned > 0, "librdkafka's default over framed keys put nothing elsewhere?"
        dead = [l for l in text.splitlines()
                if l.startswith("jackpot_records_dead_lettered_total") and not l.endswith(" 0")]
        assert not dead, dead

        got = ja.read_topic(brokers, FEATURES)
        compare_features(registry, ref, got)
        decoded = avro_consume(brokers, registry, FEATURES, len(got))
        assert not isinstance(decoded, Exception), "AvroConsumer failed: %s" % decoded
        for key, value in decoded:
            assert isinstance(key, str) and key == value["country"], (key, value["country"])
        subject = CachedSchemaRegistryClient({"url": registry}).get_latest_schema(FEATURES + "-key")
        assert json.loads(str(subject[1])) == "string", subject

        failed = avro_consume(ref_brokers, registry, FEATURES, 1)
        assert isinstance(failed, SerializerError), "AvroConsumer read plain string keys?"
        print("AvroProducer (Avro keys, %d repartitioned) -> engine -> AvroConsumer (%d features "
              "with Avro keys): ok; on string keys AvroConsumer says: %s" % (
                  repartitioned, len(decoded), failed))


if __name__ == "__main__":
    sys.exit(main())
