"""jackpot.alerts.v1 read by a third-party client, and the alerts' admin view.

`jackpot broker`, `jackpot registry`, `jackpot simulate` (the 8 weeks of
tests/configs/sim/alerts.yaml: GB's tickets per sign-up shift at week 5, NO's
sales stop for a week, 3% of records unframed, 2% late) and `jackpot run`
with alerts.feature_drift.reference_days 21 (an environment override). Then:

- Debian's python3-confluent-kafka consumes jackpot.alerts.v1 and its
  MessageSerializer decodes every value with the writer schema from the
  registry (Alert, subject jackpot.alerts.v1-value): keys are the
  fingerprints, FeatureDrift for GB and SilentSource for NO are there with
  their labels, annotations, runbook and event times, the silence FIRING and
  RESOLVED under one fingerprint;
- GET /v1/alerts lists the same alerts as JSON, filters by country and
  status, refuses an unknown country or status with 400 and a method other
  than GET or HEAD with 405;
- /metrics has jackpot_alerts_firing{country,name,severity} for what fires.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.avro import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

from acceptance_lib import free_port, start_broker_registry, stop_all

BIN = os.environ["JACKPOT_BIN"]
SRC = os.environ.get("JACKPOT_SRC", ".")
WORLD = os.path.join(SRC, "tests", "configs", "sim", "alerts.yaml")


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def consume_all(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "acceptance-alerts",
                  "enable.auto.commit": False})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, lo)])
    out = []
    deadline = time.time() + 60
    while len(out) < hi - lo and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        out.append(m)
    c.close()
    assert len(out) == hi - lo, (len(out), lo, hi)
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="jp-alerts-")
    procs = []
    try:
        group = "acceptance-alerts-%d" % os.getpid()
        # the broker creates the engine's topics for its group (the
        # repartition topic is named after it)
        bootstrap, url = start_broker_registry(BIN, tmp, procs, group)

        sim = subprocess.run([BIN, "simulate", "--world", WORLD, "--brokers", bootstrap,
                              "--registry", url], capture_output=True, text=True, timeout=300)
        assert sim.returncode == 0, sim.stderr
        written = int(re.search(r"simulate: (\d+) records", sim.stderr).group(1))

        hport = free_port()
        env = dict(os.environ,
                   JACKPOT_KAFKA__BOOTSTRAP_SERVERS=bootstrap,
                   JACKPOT_KAFKA__GROUP_ID=group,
                   JACKPOT_SCHEMA_REGISTRY__URL=url,
                   JACKPOT_STATE__DIR=os.path.join(tmp, "state"),
                   JACKPOT_HTTP__LISTEN="127.0.0.1:%d" % hport,
                   JACKPOT_PROCESSING__COMMIT_INTERVAL="200ms",
                   JACKPOT_ALERTS__FEATURE_DRIFT__REFERENCE_DAYS="21")
        run = subprocess.Popen([BIN, "run"], env=env, stderr=subprocess.PIPE, text=True)
        procs.append(run)
        consumed = 0
        for _ in range(600):
            time.sleep(0.5)
            try:
                status, body = get(hport, "/v1/tasks")
            except OSError:
                continue
            if status == 200:
                tasks = json.loads(body)
                consumed = sum(i["consumed"] for t in tasks for i in t["inputs"])
                if consumed >= written:
                    break
        assert consumed == written, (consumed, written)
        time.sleep(1)  # one more commit interval: the last alerts' snapshot

        # The admin view.
        status, body = get(hport, "/v1/alerts")
        assert status == 200, (status, body)
        view = json.loads(body)["alerts"]
        names = {(a["name"], a["country"], a["status"]) for a in view}
        assert ("FeatureDrift", "GB", "FIRING") in names, names
        assert ("SilentSource", "NO", "RESOLVED") in names, names
        status, body = get(hport, "/v1/alerts?country=GB")
        assert status == 200 and json.loads(body)["alerts"], body
        assert {a["country"] for a in json.loads(body)["alerts"]} == {"GB"}, body
        status, body = get(hport, "/v1/alerts?status=RESOLVED")
        assert {a["status"] for a in json.loads(body)["alerts"]} == {"RESOLVED"}, body
        assert get(hport, "/v1/alerts?country=XX")[0] == 400
        assert get(hport, "/v1/alerts?status=MAYBE")[0] == 400
        assert get(hport, "/v1/alerts", method="DELETE")[0] == 405

        status, metrics = get(hport, "/metrics")
        assert status == 200
        assert ('jackpot_alerts_firing{country="GB",name="FeatureDrift",severity="warning"} 1'
                in metrics), [l for l in metrics.splitlines() if "alerts" in l]

        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=20) == 0
        procs.remove(run)

        # A third-party client reads and decodes the topic.
        serializer = MessageSerializer(CachedSchemaRegistryClient({"url": url}))
        msgs = consume_all(bootstrap, "jackpot.alerts.v1")
        decoded = []
        for m in msgs:
            v = serializer.decode_message(m.value())
            assert m.key().decode() == v["fingerprint"], (m.key(), v)
            assert v["runbook_url"] == "docs/runbooks/%s.md" % v["name"], v
            assert os.path.exists(os.path.join(SRC, v["runbook_url"])), v["runbook_url"]
            assert v["severity"] in ("INFO", "WARNING", "CRITICAL"), v
            assert (v["ends_at"] is None) == (v["status"] == "FIRING"), v
            decoded.append(v)
        fd = [v for v in decoded if v["name"] == "FeatureDrift" and v["country"] == "GB"]
        assert fd and fd[0]["labels"] == {"country": "GB", "feature": "tickets_per_signup"}, fd
        assert "threshold" in fd[0]["annotations"]["description"], fd[0]["annotations"]
        assert float(fd[0]["annotations"]["value"]) > float(fd[0]["annotations"]["threshold"])
        silence = [v for v in decoded if v["name"] == "SilentSource" and v["country"] == "NO"]
        assert [v["status"] for v in silence] == ["FIRING", "RESOLVED"], silence
        assert len({v["fingerprint"] for v in silence}) == 1
        assert silence[0]["starts_at"] == silence[1]["starts_at"] < silence[1]["ends_at"]
        # The schema's logical type: event times come back as datetimes.
        print("python3-confluent-kafka decoded %d alert records; /v1/alerts and /metrics agree"
              % len(decoded))
    finally:
        stop_all(procs)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
