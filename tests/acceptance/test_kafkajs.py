"""KafkaJS with @kafkajs/confluent-schema-registry against the dev broker,
the schema registry and the engine (npm packages pinned by
tests/acceptance/clients/package-lock.json, installed into its
node_modules by scripts/npm-ci-locked when missing or stale).

Two weeks of tests/configs/sim/partitioned.yaml are produced by `jackpot
simulate` to a reference broker and processed there (string keys). KafkaJS
then reads the three input topics, decodes every value with its writer
schema through the registry and encodes it again (the bytes must come out
identical; records that do not decode are copied as they are), and
produces them to a second broker with KafkaJS's default partitioner, keyed
by country: it is murmur2, the engine's contract, so nothing is
repartitioned there. The engine on the second broker writes Avro keys
(topics.output_key_format: avro). KafkaJS reads both features topics,
decoding keys and values through the registry: the same FeatureVectors,
each Avro key the country of its value.
"""
import json
import os
import subprocess
import sys

import jp_accept as ja

WORLD = "tests/configs/sim/partitioned.yaml"
CLIENTS = os.path.join(ja.SRC, "tests", "acceptance", "clients")


def node(script, *args):
    out = subprocess.run(["node", os.path.join(CLIENTS, script)] + list(args), cwd=CLIENTS,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, "%s failed:\n%s%s" % (script, out.stdout[-2000:], out.stderr[-4000:])
    return out.stdout


def features(brokers, registry, avro_keys):
    lines = node("kafkajs_read.mjs", "--brokers", brokers, "--registry", registry, "--topic",
                 "jackpot.features.v1", "--avro-keys", "1" if avro_keys else "0").splitlines()
    return sorted(lines)


def main():
    subprocess.run([os.path.join(ja.SRC, "scripts", "npm-ci-locked"), CLIENTS], check=True)
    with ja.Procs("kafkajs") as procs:
        registry = procs.registry()
        ref_brokers = procs.broker("kafkajs-ref")
        n = procs.simulate(WORLD, ref_brokers, registry)
        engine = procs.run(ref_brokers, registry, "kafkajs-ref")
        engine.wait_done(n)
        engine.stop()

        brokers = procs.broker("kafkajs")
        counts = json.loads(node("kafkajs_copy.mjs", "--from", ref_brokers, "--to", brokers,
                                 "--registry", registry, "--topics", ",".join(ja.INPUTS)))
        print("KafkaJS copy: %s" % counts)
        assert counts["read"] == n, counts
        assert counts["decoded"] > 0 and counts["reencoded_identical"] == counts["decoded"], counts
        assert counts["raw"] > 0, "the world's broken records should not decode"

        engine = procs.run(brokers, registry, "kafkajs", {"JACKPOT_TOPICS__OUTPUT_KEY_FORMAT": "avro"})
        text = engine.wait_done(n)
        engine.stop()
        assert ja.metric_sum(text, "jackpot_records_repartitioned_total") == 0, \
            "KafkaJS's default partitioner is not murmur2?"

        want = features(ref_brokers, registry, False)
        got = features(brokers, registry, True)
        assert want, "the reference closed no window"
        assert got == want, "KafkaJS reads other features (%d lines, the reference %d)" % (
            len(got), len(want))
        for line in got:
            r = json.loads(line)
            assert r["key"] == r["value"]["country"], r["key"]
    print("KafkaJS + confluent-schema-registry: %d records copied, %d features with Avro keys: ok"
          % (n, len(got)))


if __name__ == "__main__":
    sys.exit(main())
