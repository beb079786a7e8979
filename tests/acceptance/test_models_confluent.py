"""A third-party client reads the model registry.

`jackpot dev` runs ten weeks of configs/sim/explore.yaml (the learning loop
told to cut versions after a week of data: JACKPOT_MODELS__MIN_TRAINING=7d;
the stock after its documented 35-day warm-up: counted from the first day,
the first month's billing profile is learned from a stock that holds only
the subscribers billed so far, the day-6 renewals are forecast at 20 times
their size, and the concept-drift retrains that follow drop every version's
elasticities), and
Debian's python3-confluent-kafka reads jackpot.models.v1 while it runs
(a Consumer; values decoded by its Confluent-framing MessageSerializer,
which fetches the writer schema from `jackpot registry` and decodes with
python3-avro; keys are plain strings). Every record decodes and is a complete
ModelVersion: key "<kind>-<CC>/<version>", stage, aliases, parameters in
their documented formats (FLWP for sales, FTRL for churn), prequential
metrics, the data snapshot (offset ranges of the input topics and an
event-time range), named coefficients (each sales flow's elasticity with a
positive standard error), the feature schema, code version, config hash.
`jackpot models show GB --json` against the same engine agrees with the
topic on the champion and reports its elasticities, and the dev summary
shows each country's champion with its prequential error and
elasticities.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer
from confluent_kafka.avro import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

BIN = os.environ["JACKPOT_BIN"]
SRC = os.environ.get("JACKPOT_SRC", ".")
STAGES = {"CANDIDATE", "STAGING", "PRODUCTION", "ARCHIVED"}
EVENTS = {"REGISTERED", "PROMOTED", "REJECTED", "ARCHIVED", "ROLLED_BACK"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ms(t):
    """python3-avro returns timestamp-millis as an aware datetime."""
    return t if isinstance(t, int) else int(t.timestamp() * 1000)


def check_record(key, v):
    model = v["model"]
    m = re.fullmatch(r"(sales|churn)-([A-Z]{2})", model)
    assert m, model
    assert key == "%s/%d" % (model, v["version"]), (key, model, v["version"])
    assert v["kind"] == m.group(1) and v["country"] == m.group(2), v
    assert v["version"] >= 1
    assert v["stage"] in STAGES, v["stage"]
    assert v["event"] in EVENTS and v["reason"], (v["event"], v["reason"])
    assert set(v["aliases"]) <= {"champion", "challenger"}, v["aliases"]
    assert ("champion" in v["aliases"]) == (v["stage"] == "PRODUCTION"), v
    params = v["parameters"]
    assert params[:4] == (b"FLWP" if v["kind"] == "sales" else b"FTRL"), params[:8]
    metrics = v["metrics"]
    prefix = "eval.mape" if v["kind"] == "sales" else "eval.auc"
    assert prefix in metrics and ("train." + prefix[5:]) in metrics, sorted(metrics)[:8]
    td = v["training_data"]
    topics = {r["topic"] for r in td["offsets"]}
    assert topics and topics <= {"lottery.sales.v1", "lottery.customers.v1",
                                 "lottery.draws.v1"}, topics
    for r in td["offsets"]:
        assert 0 <= r["start_offset"] < r["end_offset"], r
    assert 0 < ms(td["event_time_start"]) < ms(td["event_time_end"]), td
    assert ms(v["created_at"]) <= ms(v["event_at"]), v
    fs = v["feature_schema"]
    assert fs["record"] == ("jackpot.v1.FeatureVector" if v["kind"] == "sales"
                            else "lottery.events.v1.SaleEvent"), fs
    assert re.fullmatch(r"[0-9a-f]{16}", fs["fingerprint"]), fs
    assert fs["features"][0] == ("log_prize" if v["kind"] == "sales" else "renewals_log"), fs
    assert v["code_version"].startswith("jackpot "), v["code_version"]
    assert re.fullmatch(r"[0-9a-f]{64}", v["config_hash"]), v["config_hash"]
    coefs = {c["name"]: c for c in v["coefficients"]}
    if v["kind"] == "sales":
        # an elasticity is absent while the prize has not moved yet
        for name, c in coefs.items():
            assert re.fullmatch(r"(signups|reactivations|extras|cancellations)\.log_prize",
                                name), name
            assert c["stderr"] > 0, c
    else:
        assert "intercept" in coefs


def main():
    tmp = tempfile.mkdtemp()
    http = free_port()
    env = dict(os.environ, JACKPOT_MODELS__MIN_TRAINING="7d")
    dev = subprocess.Popen(
        [BIN, "dev", "--world", os.path.join(SRC, "configs/sim/explore.yaml"), "--weeks", "10",
         "--max", "--port", "0", "--http", "127.0.0.1:%d" % http, "--state", tmp],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = dev.stdout.readline()
        m = re.search(r"broker (\S+)\s+registry (\S+)", line)
        assert m, line
        serializer = MessageSerializer(CachedSchemaRegistryClient({"url": m.group(2)}))
        consumer = Consumer({
            "bootstrap.servers": m.group(1),
            "group.id": "models-reader",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        })
        consumer.subscribe(["jackpot.models.v1"])
        latest, n, deadline = {}, 0, time.time() + 400
        while time.time() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                if dev.poll() is not None:
                    break
                continue
            key = msg.key().decode()
            value = serializer.decode_message(msg.value())
            check_record(key, value)
            latest[key] = value
            n += 1
            sales_champions = {v["country"] for v in latest.values()
                               if v["kind"] == "sales" and "champion" in v["aliases"]}
            churn = [v for v in latest.values() if v["kind"] == "churn"]
            if len(sales_champions) >= 3 and churn:
                break
        consumer.close()
        print("decoded %d ModelVersion records, %d versions" % (n, len(latest)))
        assert n >= 10, n
        assert any("signups.log_prize" in {c["name"] for c in v["coefficients"]}
                   for v in latest.values()), "no sales version with a sign-up elasticity"

        champion = [v for v in latest.values()
                    if v["model"] == "sales-GB" and "champion" in v["aliases"]]
        if champion:
            out = subprocess.run([BIN, "models", "--url", "http://127.0.0.1:%d" % http, "show",
                                  "GB", "--json"], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            shown = json.loads(out.stdout)
            sales = [x for x in shown["models"] if x["model"] == "sales-GB"][0]
            ch = sales["aliases"]["champion"]
            assert ch["version"] >= champion[0]["version"], (ch["version"], champion[0]["version"])
            el = ch["elasticities"]["signups"]
            # null while the prize has not moved in the champion's data (not
            # identified, docs/models.md); otherwise an estimate with its error
            assert el is None or (el["stderr"] > 0 and abs(el["estimate"]) < 5), el
            assert set(ch["elasticities"]) == {"signups", "extras", "cancellations"}, ch
        # the summary shows the champions and their elasticities
        dev.send_signal(signal.SIGTERM)
        rest, _ = dev.communicate(timeout=60)
        assert "champions at the end" in rest, rest[-2000:]
        assert re.search(r"[A-Z]{2} .*sales v\d+ \(mape [0-9.]+%\) signups -?[0-9.]+±[0-9.]+", rest), \
            rest[-2000:]
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGTERM)
            dev.wait(timeout=60)
        subprocess.run(["rm", "-rf", tmp])
    print("models registry via confluent-kafka: ok")


if __name__ == "__main__":
    sys.exit(main())
