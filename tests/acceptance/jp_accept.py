"""Shared by the acceptance tests that run the engine against third-party
clients: the jackpot processes as a test starts them (dev broker, schema
registry, simulator, `jackpot run`), its metrics, and reading topics with
Debian's python3-confluent-kafka.

Every process a test starts is registered with a Procs and stopped by it
(SIGTERM, then SIGKILL after 10 s), whatever happens to the test.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition

from acceptance_lib import free_port

BIN = os.environ["JACKPOT_BIN"]
SRC = os.environ.get("JACKPOT_SRC", ".")
INPUTS = ("lottery.sales.v1", "lottery.customers.v1", "lottery.draws.v1")


class Procs:
    """The processes of one test, and its temporary directory."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="jp-%s-" % name)
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            stop(p, check=False)
        subprocess.call(["rm", "-rf", self.tmp])

    def start(self, args, name, env=None, first_line=None):
        """Starts `jackpot args...`; with first_line (a regex), waits up to
        60 s for a stdout line matching it and returns (proc, match)."""
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE if first_line else log,
                             stderr=log, text=True, cwd=SRC, env=dict(os.environ, **(env or {})))
        self.procs.append(p)
        if not first_line:
            return p, None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = p.stdout.readline()
            m = re.search(first_line, line or "")
            if m:
                return p, m
            if not line and p.poll() is not None:
                break
            if not line:
                time.sleep(0.05)
        raise AssertionError("%s: no line matching %r (see %s.log)" % (name, first_line, name))

    def broker(self, group):
        """A dev broker with the topics of `group`'s engine (its repartition
        topic is named after the group); returns the bootstrap servers."""
        _, m = self.start(["broker", "--brokers", "1", "--port", "0"], "broker-" + group,
                          {"JACKPOT_KAFKA__GROUP_ID": group}, r"^(127\.0\.0\.1:\d+)")
        return m.group(1)

    def registry(self):
        _, m = self.start(["registry", "--listen", "127.0.0.1:0", "--data",
                           os.path.join(self.tmp, "registry")], "registry", None,
                          r"(http://127\.0\.0\.1:\d+)")
        return m.group(1)

    def simulate(self, world, brokers, registry, extra=()):
        """Produces the world's records; returns how many were written."""
        truth = os.path.join(self.tmp, "truth-%d.json" % len(self.procs))
        p, _ = self.start(["simulate", "--world", world, "--brokers", brokers, "--registry",
                           registry, "--truth", truth] + list(extra), "simulate")
        assert p.wait(timeout=300) == 0, "simulate failed"
        self.procs.remove(p)
        with open(truth) as f:
            return sum(json.load(f)["records_written"].values())

    def run(self, brokers, registry, group, env=None):
        """`jackpot run` in group on brokers; returns an Engine."""
        port = free_port()
        e = dict({"JACKPOT_KAFKA__BOOTSTRAP_SERVERS": brokers,
                  "JACKPOT_KAFKA__GROUP_ID": group,
                  "JACKPOT_SCHEMA_REGISTRY__URL": registry,
                  "JACKPOT_STATE__DIR": os.path.join(self.tmp, "state-" + group),
                  "JACKPOT_HTTP__LISTEN": "127.0.0.1:%d" % port,
                  "JACKPOT_PROCESSING__COMMIT_INTERVAL": "200ms"}, **(env or {}))
        p, _ = self.start(["run"], "run-" + group, e)
        return Engine(self, p, port, group)


def stop(p, check=True):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if check:
        assert p.returncode == 0, "exit %s" % p.returncode


def metrics_text(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metric_sum(text, name, **labels):
    """The sum of every sample of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all('%s="%s"' % kv in line for kv in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Engine:
    def __init__(self, procs, p, port, group):
        self.procs, self.p, self.port, self.group = procs, p, port, group

    def metrics(self):
        return metrics_text(self.port)

    def wait_done(self, records, timeout=300):
        """Until every input record is consumed, every copy sent through
        the repartition topic is received and no partition lags; returns
        the last /metrics."""
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            assert self.p.poll() is None, "jackpot run exited (see run-%s.log)" % self.group
            try:
                text = self.metrics()
            except OSError:
                time.sleep(0.2)
                continue
            if (metric_sum(text, "jackpot_records_consumed_total") == records and
                    metric_sum(text, "jackpot_records_repartition_received_total") ==
                    metric_sum(text, "jackpot_records_repartitioned_total") and
                    metric_sum(text, "jackpot_consumer_lag_records") == 0):
                return text
            time.sleep(0.2)
        raise AssertionError("engine %s not done with %d records; last metrics:\n%s" % (
            self.group, records, "\n".join(l for l in text.splitlines()
                                           if l.startswith("jackpot_records_"))))

    def stop(self):
        stop(self.p)
        self.procs.procs.remove(self.p)


def read_topic(brokers, topic, consumer=None):
    """Every record of topic (all partitions, to their current ends) as
    (partition, offset, key, value, timestamp_ms, headers), in offset order
    per partition, partitions in order. consumer: one to read with (a
    DeserializingConsumer decodes keys and values); closed at the end."""
    c = consumer or Consumer({"bootstrap.servers": brokers, "group.id": "jp-accept-reader",
                              "enable.auto.commit": False})
    out = []
    parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi <= lo:
            continue
        c.assign([TopicPartition(topic, p, lo)])
        got, deadline = [], time.time() + 60
        while len(got) < hi - lo and time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            assert not m.error(), m.error()
            got.append((p, m.offset(), m.key(), m.value(), m.timestamp()[1], m.headers() or []))
        assert len(got) == hi - lo, "%s [%d]: %d of %d records read" % (topic, p, len(got), hi - lo)
        out += got
    c.close()
    return out
