#!/usr/bin/python3
"""The Python peer of bench_engine: the stateful loop a Quix Streams user
would write with Debian's python3-confluent-kafka and python3-avro.

It consumes the benchmark's input partitions from the beginning, decodes
every record (Confluent wire format: magic byte, schema id, Avro body; the
writer schema fetched once per id from the schema registry), keeps state in
a dict (per customer: tickets, events, last event time; per draw: prizes),
and every commit interval produces one changelog record per key dirtied
since the last commit (JSON, to the partition of the input it came from),
flushes the producer and commits the consumer offsets synchronously - the
same commit protocol as the engine's, without validation, windows, PII
tokens or RocksDB.

Prints one JSON line: records consumed, seconds from the first record to
the final commit, and changelog records produced. bench_engine runs it
pinned to the engine's core.
"""
import argparse
import io
import json
import os
import struct
import sys
import time
import urllib.request

import avro.io
import avro.schema
from confluent_kafka import Consumer, Producer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated input topics")
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--changelog", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--commit-interval-ms", type=int, default=1000)
    ap.add_argument("--timeout-s", type=float, default=300)
    ap.add_argument("--cpu", type=int, help="pin the process (and its librdkafka threads) to it")
    a = ap.parse_args()
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})

    consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    producer = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                         "linger.ms": 5, "queue.buffering.max.messages": 1000000})
    topics = a.topics.split(",")
    consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(a.partitions)])

    readers = {}  # schema id -> DatumReader

    def reader(schema_id):
        r = readers.get(schema_id)
        if r is None:
            with urllib.request.urlopen("%s/schemas/ids/%d" % (a.registry, schema_id)) as resp:
                schema = avro.schema.parse(json.loads(resp.read())["schema"])
            r = readers[schema_id] = avro.io.DatumReader(schema)
        return r

    state, dirty, positions = {}, {}, {}
    produced = 0

    def commit():
        nonlocal produced
        for key, part in dirty.items():
            producer.produce(a.changelog, key=key, value=json.dumps(state[key]).encode(),
                             partition=part)
            produced += 1
            producer.poll(0)
        producer.flush()
        dirty.clear()
        if positions:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()],
                            asynchronous=False)

    seen, t_first = 0, None
    deadline = time.monotonic() + a.timeout_s
    last_commit = time.monotonic()
    while seen < a.expect:
        if time.monotonic() > deadline:
            print("peer: timed out after %d of %d records" % (seen, a.expect), file=sys.stderr)
            return 1
        for m in consumer.consume(num_messages=500, timeout=0.1):
            if m.error():
                continue
            if t_first is None:
                t_first = time.monotonic()
                last_commit = t_first
            seen += 1
            v = m.value()
            magic, schema_id = struct.unpack(">bI", v[:5])
            rec = reader(schema_id).read(avro.io.BinaryDecoder(io.BytesIO(v[5:])))
            key = rec.get("customer_id") or rec.get("draw_id")
            s = state.get(key)
            if s is None:
                s = state[key] = {"tickets": 0, "events": 0, "last": 0, "prizes": 0}
            s["tickets"] += rec.get("tickets", 0) or 0
            s["prizes"] += sum(p.get("amount_minor", 0) for p in rec.get("prizes_paid") or [])
            s["events"] += 1
            t = rec.get("event_time") or rec.get("draw_time")  # a datetime (timestamp-millis)
            s["last"] = max(s["last"], int(t.timestamp() * 1000) if t else 0)
            dirty[key] = m.partition()
            positions[(m.topic(), m.partition())] = m.offset() + 1
        if t_first is not None and \
                (time.monotonic() - last_commit) * 1000 >= a.commit_interval_ms:
            commit()
            last_commit = time.monotonic()
    commit()
    elapsed = time.monotonic() - t_first
    consumer.close()
    print(json.dumps({"records": seen, "seconds": elapsed, "changelog": produced}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
