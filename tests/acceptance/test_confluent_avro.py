"""Third-party producers against the embedded default.

Debian's python3-confluent-kafka (its legacy confluent_kafka.avro
AvroProducer, which serializes with python3-avro) registers SaleEvent in
`jackpot registry` and produces to `jackpot broker`; then an evolved
version (a field added with a default, an enum symbol added) is registered
and used; an incompatible change is refused with 409. The engine
(`jackpot run`) must decode, validate and apply every record - none
dead-lettered, the unknown enum symbol mapped to UNKNOWN and counted - and
kcat and `jackpot tail` must read the topic.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zoneinfo

from confluent_kafka import avro
from confluent_kafka.avro import AvroProducer, CachedSchemaRegistryClient
from confluent_kafka.avro.error import ClientError

from acceptance_lib import free_port, start_broker_registry, stop_all
from jp_accept import metric_sum, metrics_text

BIN = os.environ["JACKPOT_BIN"]
SRC = os.environ.get("JACKPOT_SRC", ".")
N_V1, N_V2 = 20, 20


def next_saturday_draw(now):
    london = zoneinfo.ZoneInfo("Europe/London")
    local = now.astimezone(london)
    day = local.date()
    while True:
        if day.weekday() == 5:
            draw = datetime.datetime(day.year, day.month, day.day, 18, 0, tzinfo=london)
            if draw > now:
                return "GB-%s-saturday" % day.strftime("%Y%m%d")
        day += datetime.timedelta(days=1)


def sale(now, channel, evolved):
    v = {
        "event_id": str(uuid.uuid4()),
        "country": "GB",
        "event_time": now,
        "customer_id": "C-%d" % (hash(channel) % 97),
        "postcode": "SW1A 1AA",
        "channel": channel,
        "tickets": 2,
        "amount_minor": 2450,
        "currency": "GBP",
        "draw_id": next_saturday_draw(now),
        "advertised_prize_minor": 100000000,
        "campaign": None,
    }
    if evolved:
        v["referrer"] = "newsletter"
    return v


def main():
    tmp = tempfile.mkdtemp(prefix="jp-confluent-")
    procs = []
    try:
        group = "acceptance-%d" % os.getpid()
        # The broker creates the engine's topics for the engine's group
        # (its repartition topic is named after it).
        bootstrap, url = start_broker_registry(BIN, tmp, procs, group)

        schema_v1 = json.load(open(os.path.join(SRC, "schemas", "SaleEvent.avsc")))
        evolved = json.loads(json.dumps(schema_v1))
        for f in evolved["fields"]:
            if f["name"] == "channel":
                syms = f["type"]["symbols"]
                syms.insert(syms.index("UNKNOWN"), "KIOSK")
        evolved["fields"].append({"name": "referrer", "type": ["null", "string"],
                                  "default": None, "doc": "Where the buyer came from."})

        key_schema = avro.loads('"string"')
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        p1 = AvroProducer({"bootstrap.servers": bootstrap, "schema.registry.url": url},
                          default_key_schema=key_schema,
                          default_value_schema=avro.loads(json.dumps(schema_v1)))
        for i in range(N_V1):
            p1.produce(topic="lottery.sales.v1", key="GB", value=sale(now, "WEB", False))
        assert p1.flush(10) == 0
        p2 = AvroProducer({"bootstrap.servers": bootstrap, "schema.registry.url": url},
                          default_key_schema=key_schema,
                          default_value_schema=avro.loads(json.dumps(evolved)))
        for i in range(N_V2):
            p2.produce(topic="lottery.sales.v1", key="GB",
                       value=sale(now, "KIOSK" if i % 2 else "APP", True))
        assert p2.flush(10) == 0

        # Two versions under TopicNameStrategy's subject.
        client = CachedSchemaRegistryClient({"url": url})
        assert client.get_latest_schema("lottery.sales.v1-value")[2] == 2
        incompatible = json.loads(json.dumps(evolved))
        incompatible["fields"].append({"name": "loyalty_tier", "type": "string",
                                       "doc": "No default: old data cannot be read."})
        try:
            client.register("lottery.sales.v1-value", avro.loads(json.dumps(incompatible)))
            raise AssertionError("an incompatible schema was accepted")
        except ClientError as e:
            # this client version puts the HTTP status in the message only
            assert "409" in str(e) and "incompatible" in str(e), e

        # kcat, a third-party librdkafka client, lists and consumes.
        md = json.loads(subprocess.check_output(["kcat", "-b", bootstrap, "-L", "-J"]))
        assert "lottery.sales.v1" in {t["topic"] for t in md["topics"]}
        raw = subprocess.check_output(["kcat", "-b", bootstrap, "-C", "-t", "lottery.sales.v1",
                                       "-o", "beginning", "-e", "-q", "-f", "%o\n"], text=True)
        assert len(raw.split()) == N_V1 + N_V2, raw

        # jackpot tail decodes with each record's writer schema.
        lines = subprocess.check_output([BIN, "tail", "lottery.sales.v1", "--brokers", bootstrap,
                                         "--registry", url, "--from-beginning", "--count",
                                         str(N_V1 + N_V2)], text=True, timeout=60).splitlines()
        recs = [json.loads(line) for line in lines]
        assert len(recs) == N_V1 + N_V2
        assert all("value" in r for r in recs), [r for r in recs if "value" not in r]
        assert sum(1 for r in recs if '"KIOSK"' in json.dumps(r["value"])) == N_V2 // 2

        # The engine decodes, validates and applies every record.
        hport = free_port()
        env = dict(os.environ,
                   JACKPOT_KAFKA__BOOTSTRAP_SERVERS=bootstrap,
                   JACKPOT_KAFKA__GROUP_ID=group,
                   JACKPOT_SCHEMA_REGISTRY__URL=url,
                   JACKPOT_STATE__DIR=os.path.join(tmp, "state"),
                   JACKPOT_HTTP__LISTEN="127.0.0.1:%d" % hport,
                   JACKPOT_PROCESSING__COMMIT_INTERVAL="200ms")
        run = subprocess.Popen([BIN, "run"], env=env, stderr=subprocess.PIPE, text=True)
        procs.append(run)
        applied = -1
        for _ in range(300):
            time.sleep(0.2)
            try:
                text = metrics_text(hport)
            except OSError:
                continue
            applied = metric_sum(text, "jackpot_records_applied_total", topic="lottery.sales.v1")
            if applied >= N_V1 + N_V2:
                break
        assert applied == N_V1 + N_V2, "applied %s" % applied
        assert metric_sum(text, "jackpot_records_dead_lettered_total") == 0
        assert metric_sum(text, "jackpot_records_corrected_total",
                          reason="CHANNEL_UNKNOWN") == N_V2 // 2
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=10) == 0
        procs.remove(run)
        print("confluent_kafka AvroProducer -> jackpot broker/registry -> engine: ok")
    finally:
        stop_all(procs)
        subprocess.call(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
