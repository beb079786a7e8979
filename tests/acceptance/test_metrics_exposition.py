"""The engine's /metrics as operators get it (docs/operations.md, "Metrics").

`jackpot run` starts on a dev broker with empty inputs. Its first answer
on /metrics already holds every family - the engine's, process_* and
every metric deploy/prometheus/rules.yml and deploy/grafana/jackpot.json
name (tests/deploy/promql_names.py) - with zero values: jackpot_ready 0,
no record counted. Prometheus' own linter (promtool check metrics) accepts
the exposition; every family has one HELP and one TYPE, and no family
carries a label whose value is the same on all of its series. The process
figures are the process's (start time, file descriptors, memory). Then a
simulated week arrives: jackpot_ready turns 1, the end-to-end latency
histogram counts every record, and the RocksDB, event-time lag, rebalance
and producer figures move.
"""
import os
import re
import subprocess
import sys
import time

import jp_accept as ja

WORLD = "tests/configs/sim/quarter.yaml"
FAMILIES = """
jackpot_ready jackpot_assigned_tasks jackpot_build_info jackpot_commits_total
jackpot_commit_seconds jackpot_rewinds_total jackpot_restored_records_total
jackpot_restore_progress_ratio jackpot_consumer_lag_records jackpot_windows_closed_total
jackpot_records_consumed_total jackpot_records_applied_total jackpot_records_dead_lettered_total
jackpot_records_duplicate_total jackpot_records_corrected_total jackpot_records_repartitioned_total
jackpot_records_repartition_received_total jackpot_records_repartition_replays_total
jackpot_repartition_invalid_total jackpot_producer_delivery_errors_total
jackpot_producer_queue_messages jackpot_rebalances_total jackpot_rebalance_last_duration_seconds
jackpot_rocksdb_sst_bytes jackpot_rocksdb_memtable_bytes jackpot_rocksdb_pending_compaction_bytes
jackpot_rocksdb_block_cache_bytes jackpot_rocksdb_block_cache_hit_ratio
jackpot_event_time_lag_seconds jackpot_end_to_end_latency_seconds
jackpot_input_records_lost_total jackpot_dead_letters_truncated_total
process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes
process_open_fds process_max_fds process_start_time_seconds
""".split()
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def parse(text):
    """{family: {"help": n, "type": t, "series": [(labels dict, value)]}}."""
    fams = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split()[2]
            f = fams.setdefault(name, {"help": 0, "type": None, "series": []})
            if line.startswith("# HELP "):
                f["help"] += 1
            else:
                assert f["type"] is None, "%s: a second TYPE" % name
                f["type"] = line.split()[3]
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = name if name in fams else base
        assert family in fams, "%s: a sample before its HELP and TYPE" % name
        pairs = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', labels or ""))
        pairs.pop("le", None)
        fams[family]["series"].append((pairs, float(value)))
    return fams


def check_exposition(text, tmp):
    path = os.path.join(tmp, "metrics.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        lint = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                              text=True)
    assert lint.returncode == 0, "promtool check metrics:\n%s%s" % (lint.stdout, lint.stderr)
    fams = parse(text)
    for name, f in fams.items():
        assert f["help"] == 1 and f["type"], "%s: %d HELP lines, TYPE %s" % (name, f["help"],
                                                                          f["type"])
        series = {tuple(sorted(p.items())) for p, _ in f["series"]}
        if len(series) > 1:
            for label in {k for p, _ in f["series"] for k in p}:
                values = {p.get(label) for p, _ in f["series"]}
                assert len(values) > 1, "%s: label %s is %s on every series" % (
                    name, label, values.pop())
    return fams


def value(fams, name, **labels):
    return sum(v for p, v in fams[name]["series"]
               if all(p.get(k) == x for k, x in labels.items()))


def main():
    names = subprocess.run(["/usr/bin/python3", os.path.join(ja.SRC, "tests/deploy/promql_names.py"),
                            os.path.join(ja.SRC, "deploy/prometheus/rules.yml"),
                            os.path.join(ja.SRC, "deploy/grafana/jackpot.json")],
                           capture_output=True, text=True, check=True).stdout
    required = {re.sub(r"_(bucket|sum|count)$", "", l.split()[1]) for l in names.splitlines()
                if l.split()[0] == "required" and l.split()[1] != "up"}
    assert len(required) >= 10, names
    with ja.Procs("metrics") as procs:
        registry = procs.registry()
        brokers = procs.broker("metrics")
        started = time.time()
        engine = procs.run(brokers, registry, "metrics")
        text = None
        for _ in range(300):
            try:
                text = engine.metrics()
                break
            except OSError:
                time.sleep(0.1)
        assert text, "/metrics never answered"
        fams = check_exposition(text, procs.tmp)
        missing = sorted((set(FAMILIES) | required) - set(fams))
        assert not missing, "not there from the start: %s" % missing
        for name in FAMILIES:
            assert fams[name]["series"], "%s: no series" % name
        assert value(fams, "jackpot_ready") == 0
        assert value(fams, "jackpot_records_consumed_total") == 0
        assert value(fams, "jackpot_end_to_end_latency_seconds") == 0
        assert started - 60 < value(fams, "process_start_time_seconds") <= time.time() + 1
        assert value(fams, "process_open_fds") > 3 and value(fams, "process_max_fds") > 3
        assert value(fams, "process_resident_memory_bytes") > 1 << 20
        assert value(fams, "process_virtual_memory_bytes") >= value(
            fams, "process_resident_memory_bytes")
        assert fams["process_cpu_seconds_total"]["type"] == "counter"

        n = procs.simulate(WORLD, brokers, registry, ["--weeks", "1"])
        text = engine.wait_done(n)
        for _ in range(100):  # the figures are set at each commit
            fams = check_exposition(text, procs.tmp)
            if value(fams, "jackpot_ready") == 1 and \
                    ja.metric_sum(text, "jackpot_end_to_end_latency_seconds_count") >= n:
                break
            time.sleep(0.2)
            text = engine.metrics()
        assert value(fams, "jackpot_ready") == 1
        assert value(fams, "jackpot_rebalances_total", event="assign") >= 1
        assert value(fams, "jackpot_rocksdb_sst_bytes") + \
            value(fams, "jackpot_rocksdb_memtable_bytes") > 0
        count = ja.metric_sum(text, "jackpot_end_to_end_latency_seconds_count")
        assert count >= n, "latency observed %d times for %d records" % (count, n)
        # simulated event time is in 2026: the lag is event time's distance
        # from now, whatever its sign; every owned task has one
        lags = [v for _, v in fams["jackpot_event_time_lag_seconds"]["series"]]
        assert any(v != 0 for v in lags), lags
        engine.stop()
        print("/metrics: %d families from the start, promtool clean, %d records through "
              "(%d latency observations): ok" % (len(fams), n, count))


if __name__ == "__main__":
    sys.exit(main())
