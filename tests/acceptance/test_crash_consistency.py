#!/usr/bin/python3
"""Crash consistency of `jackpot run` (issue 5).

The simulator streams four weeks of tests/configs/sim/quarter.yaml into a
dev broker (`jackpot broker`) for about 200 s while `jackpot run` is killed
with SIGKILL at 20 seeded random moments and restarted each time, once with
its state directory deleted (a full changelog restore). A last run then
consumes the rest and stops on SIGTERM (exit 0 within 10 s).

A clean run (no crashes) processes the same input on a second dev broker:
the simulator is deterministic (same world and seed, same records in the
same order), and a second cluster keeps the clean run's changelogs and
outputs apart from the crashed run's (the dev broker cannot create
correctly partitioned changelog topics on demand).

Checks: the distinct (key, value bytes) FeatureVector records of
jackpot.features.v1 - read with python3-kafka - are the same non-empty set
for both runs (outputs are at least once: duplicates allowed, differing
windows not), and the per-partition counters of /v1/tasks are equal and
satisfy consumed = applied + dead_lettered + duplicates.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from kafka import KafkaConsumer, TopicPartition

BIN = os.environ["JACKPOT_BIN"]
SRC = os.environ.get("JACKPOT_SRC", os.getcwd())
WORLD = os.path.join(SRC, "tests/configs/sim/quarter.yaml")
WEEKS = 4
SPEED = 12000  # 4 weeks = 2 419 200 simulated s: about 200 s of streaming, so that
#               every kill (a run lasts ~7 s with the mock's group joins) falls in it
KILLS = int(os.environ.get("JP_CRASH_KILLS", "20"))
WIPE_AT = KILLS // 2 - 1  # the 10th restart starts from an empty state directory
SEED = 20260305
FEATURES = "jackpot.features.v1"
procs = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(args, tmp, name, env=None):
    """Starts a service that prints its address on its first stdout line."""
    out = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=out, cwd=SRC, text=True,
                         env=dict(os.environ, **(env or {})))
    procs.append(p)
    line = p.stdout.readline().strip()
    if not line:
        fail("%s printed no address (see %s.log)" % (name, name))
    return line.split()[-1]


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
        return r.read().decode()


class Run:
    """One `jackpot run` process."""

    def __init__(self, tmp, brokers, registry, group, state, tag):
        self.port = free_port()
        env = dict(os.environ)
        env.update({
            "JACKPOT_KAFKA__BOOTSTRAP_SERVERS": brokers,
            "JACKPOT_KAFKA__GROUP_ID": group,
            "JACKPOT_SCHEMA_REGISTRY__URL": registry,
            "JACKPOT_STATE__DIR": state,
            "JACKPOT_HTTP__LISTEN": "127.0.0.1:%d" % self.port,
            "JACKPOT_PROCESSING__COMMIT_INTERVAL": "200ms",
            "JACKPOT_TOPICS__FEATURES": FEATURES,
            # The dev broker has no static membership: a killed member
            # holds its partitions until its session times out, and a
            # joining member waits that long (minus 1 s) for it; below
            # about 3 s the mock's initial join delay evicts joiners.
            "JACKPOT_KAFKA__SESSION_TIMEOUT_MS": "3500",
            "JACKPOT_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
            # Concept drift calibrates its detectors by simulation when
            # `run` starts (15-35 s on a loaded 2-core machine), which every
            # one of the runs below would pay before it takes its tasks;
            # this test compares counters and features, not alerts.
            "JACKPOT_ALERTS__CONCEPT_DRIFT__ENABLED": "false",
        })
        self.log = os.path.join(tmp, "run-%s.log" % tag)
        with open(self.log, "w") as log:
            self.p = subprocess.Popen([BIN, "run"], stdout=log, stderr=subprocess.STDOUT,
                                      cwd=SRC, env=env)
        procs.append(self.p)

    def tasks(self):
        """/v1/tasks (as of the last commit), or None if not up yet."""
        try:
            return json.loads(http_get(self.port, "/v1/tasks"))
        except (OSError, ValueError):
            return None

    def wait_tasks(self, timeout=30):
        """Waits until the run owns every task (after its restore)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                fail("run exited with %d (%s)" % (self.p.returncode, self.log))
            st = self.tasks()
            if st and len(st) == PARTITIONS:
                return
            time.sleep(0.05)
        fail("run got no tasks in %d s (%s)" % (timeout, self.log))

    def lag_metric(self):
        total = 0.0
        for line in http_get(self.port, "/metrics").splitlines():
            if line.startswith("jackpot_consumer_lag_records{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_consumed(self, expected, timeout=90):
        """Waits until the tasks together have consumed every input record."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                fail("run exited with %d while catching up (%s)" % (self.p.returncode, self.log))
            tasks = self.tasks()
            if tasks is not None:
                last = tasks
                consumed = sum(i["consumed"] for t in tasks for i in t["inputs"])
                lag = sum(i["lag"] for t in tasks for i in t["inputs"])
                if len(tasks) == PARTITIONS and consumed == expected and lag == 0:
                    if self.lag_metric() == 0:
                        return tasks
                if consumed > expected:
                    fail("consumed %d records of %d" % (consumed, expected))
            time.sleep(0.2)
        fail("run did not consume %d records in %d s; last status %s" %
             (expected, timeout, json.dumps(last)[:2000]))

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fail("run did not stop within 10 s of SIGTERM (%s)" % self.log)
        if rc != 0:
            fail("run exited %d after SIGTERM (%s)" % (rc, self.log))

    def kill(self):
        self.p.kill()
        self.p.wait()


def counters(status):
    """{(topic, partition): (consumed, applied, dead_lettered, duplicates)}"""
    out = {}
    for t in status:
        for i in t["inputs"]:
            c = (i["consumed"], i["applied"], i["dead_lettered"], i["duplicates"])
            if c[0] != c[1] + c[2] + c[3]:
                fail("conservation broken for %s [%d]: %r" % (i["topic"], t["partition"], c))
            out[(i["topic"], t["partition"])] = c
    return out


def distinct_features(brokers):
    c = KafkaConsumer(bootstrap_servers=brokers, api_version=(2, 5, 0),
                      enable_auto_commit=False, consumer_timeout_ms=2000)
    parts = [TopicPartition(FEATURES, p) for p in sorted(c.partitions_for_topic(FEATURES) or [])]
    if not parts:
        fail("%s has no partitions on %s" % (FEATURES, brokers))
    c.assign(parts)
    c.seek_to_beginning(*parts)
    end = c.end_offsets(parts)
    seen, n = set(), 0
    deadline = time.monotonic() + 60
    while any(c.position(tp) < end[tp] for tp in parts):
        if time.monotonic() > deadline:
            fail("could not read %s to its end" % FEATURES)
        for recs in c.poll(timeout_ms=1000).values():
            for r in recs:
                seen.add((r.key, r.value))
                n += 1
    c.close()
    return seen, n


def explain(registry, only_crash, only_clean):
    """Prints the fields of a few windows that differ between the runs."""
    import io
    import avro.io
    import avro.schema

    schemas = {}

    def decode(value):
        sid = int.from_bytes(value[1:5], "big")
        if sid not in schemas:
            with urllib.request.urlopen("%s/schemas/ids/%d" % (registry, sid)) as r:
                schemas[sid] = avro.schema.parse(json.loads(r.read())["schema"])
        reader = avro.io.DatumReader(schemas[sid])
        return reader.read(avro.io.BinaryDecoder(io.BytesIO(value[5:])))

    def index(recs):
        out = {}
        for k, v in recs:
            d = decode(v)
            out[(k, d.get("window_kind"), d.get("window_start"))] = d
        return out

    a, b = index(only_crash), index(only_clean)
    for key in sorted(set(a) & set(b), key=str)[:5]:
        diff = {f: (a[key][f], b[key][f]) for f in a[key] if a[key][f] != b[key].get(f)}
        print("window %r differs (crashed, clean): %r" % (key, diff), file=sys.stderr)
    print("%d windows only after crashes, %d only clean" % (len(set(a) - set(b)),
                                                           len(set(b) - set(a))), file=sys.stderr)


def simulate(brokers, registry, tmp, tag, paced):
    truth = os.path.join(tmp, "truth-%s.json" % tag)
    args = [BIN, "simulate", "--world", WORLD, "--weeks", str(WEEKS), "--brokers", brokers,
            "--registry", registry, "--truth", truth]
    args += ["--speed", str(SPEED)] if paced else ["--max"]
    log = open(os.path.join(tmp, "simulate-%s.log" % tag), "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=SRC)
    procs.append(p)
    return p, truth


def records_written(truth):
    with open(truth) as f:
        return sum(json.load(f)["records_written"].values())


def main():
    global PARTITIONS
    tmp = tempfile.mkdtemp(prefix="jp-crash-")
    try:
        registry = start_service(["registry", "--listen", "127.0.0.1:0", "--data",
                                  os.path.join(tmp, "registry")], tmp, "registry")
        # Each broker creates the topics of the group that runs on it (the
        # repartition topic is named after the group).
        crash_bs = start_service(["broker", "--brokers", "1", "--port", str(free_port())], tmp,
                                 "broker-crash", {"JACKPOT_KAFKA__GROUP_ID": "crash-group"})
        clean_bs = start_service(["broker", "--brokers", "1", "--port", str(free_port())], tmp,
                                 "broker-clean", {"JACKPOT_KAFKA__GROUP_ID": "clean-group"})
        probe = KafkaConsumer(bootstrap_servers=crash_bs, api_version=(2, 5, 0))
        PARTITIONS = len(probe.partitions_for_topic("lottery.sales.v1"))
        probe.close()

        # The crashed run: killed at random moments while the input streams.
        rng = random.Random(SEED)
        state = os.path.join(tmp, "state-crash")
        sim, truth = simulate(crash_bs, registry, tmp, "crash", paced=True)
        streaming = 0
        for k in range(KILLS):
            if k == WIPE_AT:
                shutil.rmtree(state, ignore_errors=True)
            run = Run(tmp, crash_bs, registry, "crash-group", state, "crash-%02d" % k)
            # Killed 0.3-2 s after it took over the tasks: while it
            # processes, commits, or restores after a rebalance.
            t0 = time.monotonic()
            run.wait_tasks()
            print("run %2d: tasks after %.1f s" % (k, time.monotonic() - t0), flush=True)
            time.sleep(rng.uniform(0.3, 2.0))
            if run.p.poll() is not None:
                fail("run %d exited early with %d (%s)" % (k, run.p.returncode, run.log))
            streaming += sim.poll() is None
            run.kill()
        if sim.wait(timeout=120) != 0:
            fail("simulate failed (see simulate-crash.log)")
        expected = records_written(truth)
        run = Run(tmp, crash_bs, registry, "crash-group", state, "crash-final")
        crash_status = run.wait_consumed(expected)
        run.stop()

        # The clean run over the same input.
        sim, truth_clean = simulate(clean_bs, registry, tmp, "clean", paced=False)
        if sim.wait(timeout=120) != 0:
            fail("simulate failed (see simulate-clean.log)")
        if records_written(truth_clean) != expected:
            fail("the simulator is not deterministic: %d records, then %d" %
                 (expected, records_written(truth_clean)))
        run = Run(tmp, clean_bs, registry, "clean-group", os.path.join(tmp, "state-clean"),
                  "clean")
        clean_status = run.wait_consumed(expected)
        run.stop()

        crash_counts, clean_counts = counters(crash_status), counters(clean_status)
        if crash_counts != clean_counts:
            fail("per-partition counters differ:\ncrashed %r\nclean   %r" %
                 (crash_counts, clean_counts))
        if sum(c[0] for c in crash_counts.values()) != expected:
            fail("counters do not add up to the %d records written" % expected)

        crash_fv, n_crash = distinct_features(crash_bs)
        clean_fv, n_clean = distinct_features(clean_bs)
        if not clean_fv:
            fail("the clean run produced no features")
        if crash_fv != clean_fv:
            explain(registry, crash_fv - clean_fv, clean_fv - crash_fv)
            fail("feature sets differ: %d only after crashes, %d only in the clean run "
                 "(of %d / %d distinct)" % (len(crash_fv - clean_fv), len(clean_fv - crash_fv),
                                            len(crash_fv), len(clean_fv)))
        print("ok: %d of %d kills while the input streamed" % (streaming, KILLS))
        print("ok: %d input records, %d distinct feature records (%d produced with crashes, "
              "%d clean)" % (expected, len(clean_fv), n_crash, n_clean))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("JP_TEST_KEEP"):
            print("kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


PARTITIONS = 0
if __name__ == "__main__":
    main()
