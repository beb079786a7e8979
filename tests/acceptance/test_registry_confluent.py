#!/usr/bin/python3
"""`jackpot registry` driven by Confluent's own Python client.

confluent_kafka.schema_registry.SchemaRegistryClient (Debian's
python3-confluent-kafka) registers a schema, reads it back by id, looks it
up, checks compatibility, gets 409 on an incompatible change, changes
levels and deletes - no Kafka broker involved. It also encodes a record in
the Confluent wire format with python3-avro (magic byte, id, Avro binary) and
decodes it after a registry restart with the writer schema fetched by id,
which is what a consumer does. (confluent_kafka's AvroSerializer needs
fastavro, which Debian does not package.)

Modes and import: the client's own REST transport (Debian's client predates
the mode API) sets READONLY and IMPORT; the client then sees Confluent's
42205 refusals, registers under explicit ids in IMPORT mode, and reads
back, from a registry filled by `jackpot registry import`, exactly the ids,
versions and levels it registered in the source.
"""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import warnings

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
import avro.io
import avro.schema

JACKPOT = os.environ.get("JACKPOT_BIN", "build/release/jackpot")

SALE_V1 = {
    "type": "record",
    "name": "SaleEvent",
    "namespace": "lottery",
    "fields": [
        {"name": "country", "type": "string"},
        {"name": "tickets", "type": "int"},
    ],
}
SALE_V2_OK = dict(SALE_V1, fields=SALE_V1["fields"] + [
    {"name": "channel", "type": "string", "default": "web"}])
SALE_V2_BAD = dict(SALE_V1, fields=SALE_V1["fields"] + [
    {"name": "channel", "type": "string"}])


class RegistryProcess:
    """`jackpot registry` on an ephemeral port with its own data directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jp-registry-py-")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [JACKPOT, "registry", "--listen", "127.0.0.1:0", "--data", self.dir],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError("registry did not start: %r" % line)
        self.url = line.split()[-1]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        return code

    def close(self):
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ConfluentClientTest(unittest.TestCase):
    def setUp(self):
        # confluent_kafka's clients keep their sessions open until collected.
        warnings.simplefilter("ignore", ResourceWarning)
        self.reg = RegistryProcess()
        self.client = SchemaRegistryClient({"url": self.reg.url})

    def tearDown(self):
        self.reg.close()

    def test_register_read_compat_and_409(self):
        c = self.client
        v1 = Schema(json.dumps(SALE_V1), "AVRO")
        sid = c.register_schema("lottery.sales.v1-value", v1)
        self.assertEqual(sid, 1)
        # A fresh client (no cache) reads it back by id.
        fresh = SchemaRegistryClient({"url": self.reg.url})
        got = fresh.get_schema(sid)
        self.assertEqual(json.loads(got.schema_str), SALE_V1)
        self.assertEqual(got.schema_type, "AVRO")
        # The same schema under another subject shares the id.
        self.assertEqual(fresh.register_schema("other-value", v1), sid)

        reg = fresh.lookup_schema("lottery.sales.v1-value", v1)
        self.assertEqual((reg.schema_id, reg.version, reg.subject),
                         (sid, 1, "lottery.sales.v1-value"))
        latest = fresh.get_latest_version("lottery.sales.v1-value")
        self.assertEqual(latest.version, 1)
        self.assertEqual(fresh.get_subjects(), ["lottery.sales.v1-value", "other-value"])

        ok = Schema(json.dumps(SALE_V2_OK), "AVRO")
        bad = Schema(json.dumps(SALE_V2_BAD), "AVRO")
        self.assertTrue(c.test_compatibility("lottery.sales.v1-value", ok))
        self.assertFalse(c.test_compatibility("lottery.sales.v1-value", bad))
        with self.assertRaises(SchemaRegistryError) as cm:
            c.register_schema("lottery.sales.v1-value", bad)
        self.assertEqual(cm.exception.http_status_code, 409)
        self.assertEqual(c.register_schema("lottery.sales.v1-value", ok), 2)
        self.assertEqual(fresh.get_versions("lottery.sales.v1-value"), [1, 2])

        with self.assertRaises(SchemaRegistryError) as cm:
            fresh.get_schema(999)
        self.assertEqual(cm.exception.http_status_code, 404)
        self.assertEqual(cm.exception.error_code, 40403)

    def test_config_and_delete(self):
        c = self.client
        self.assertEqual(c.get_compatibility(), "BACKWARD")
        c.set_compatibility(level="full")
        self.assertEqual(c.get_compatibility(), "FULL")
        c.set_compatibility("s-value", "NONE")
        self.assertEqual(c.get_compatibility("s-value"), "NONE")
        with self.assertRaises(SchemaRegistryError) as cm:
            c.set_compatibility(level="SIDEWAYS")
        self.assertEqual(cm.exception.error_code, 42203)
        with self.assertRaises(SchemaRegistryError) as cm:
            c.get_compatibility("unset-value")
        self.assertEqual(cm.exception.error_code, 40408)

        c.register_schema("s-value", Schema(json.dumps(SALE_V1), "AVRO"))
        c.register_schema("s-value", Schema('"string"', "AVRO"))  # NONE allows it
        self.assertEqual(c.delete_version("s-value", 1), 1)
        self.assertEqual(c.get_versions("s-value"), [2])
        self.assertEqual(c.delete_subject("s-value"), [2])
        with self.assertRaises(SchemaRegistryError) as cm:
            c.get_versions("s-value")
        self.assertEqual(cm.exception.error_code, 40401)

        with self.assertRaises(SchemaRegistryError) as cm:
            c.register_schema("x-value", Schema("{not json", "AVRO"))
        self.assertEqual(cm.exception.http_status_code, 422)
        self.assertEqual(cm.exception.error_code, 42201)

    def test_wire_format_round_trip_across_restart(self):
        sid = self.client.register_schema("lottery.sales.v1-value",
                                          Schema(json.dumps(SALE_V1), "AVRO"))
        record = {"country": "GB", "tickets": 3}
        buf = io.BytesIO()
        buf.write(b"\x00" + sid.to_bytes(4, "big"))
        avro.io.DatumWriter(avro.schema.parse(json.dumps(SALE_V1))).write(
            record, avro.io.BinaryEncoder(buf))
        data = buf.getvalue()

        # Ids survive a restart: a consumer after it still resolves them.
        self.assertEqual(self.reg.stop(), 0)
        self.reg.start()
        client = SchemaRegistryClient({"url": self.reg.url})
        self.assertEqual(data[0], 0)
        writer = client.get_schema(int.from_bytes(data[1:5], "big"))
        reader = avro.io.DatumReader(avro.schema.parse(writer.schema_str))
        self.assertEqual(reader.read(avro.io.BinaryDecoder(io.BytesIO(data[5:]))), record)
        self.assertEqual(client.get_versions("lottery.sales.v1-value"), [1])
        # The next registration continues after the highest id.
        self.assertEqual(client.register_schema("x-value", Schema('"long"', "AVRO")), sid + 1)


class ModeAndImportTest(unittest.TestCase):
    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.regs = []

    def tearDown(self):
        for reg in self.regs:
            reg.close()

    def registry(self):
        reg = RegistryProcess()
        self.regs.append(reg)
        return reg, SchemaRegistryClient({"url": reg.url})

    def assert_refused(self, call, code, text):
        with self.assertRaises(SchemaRegistryError) as cm:
            call()
        self.assertEqual(cm.exception.http_status_code, code // 100)
        self.assertEqual(cm.exception.error_code, code)
        self.assertIn(text, cm.exception.error_message)

    def test_readonly_and_explicit_ids(self):
        _, c = self.registry()
        v1 = Schema(json.dumps(SALE_V1), "AVRO")
        sid = c.register_schema("s-value", v1)
        rest = c._rest_client  # the client's transport: same headers, same errors
        # An id outside IMPORT mode is refused with Confluent's code, not ignored.
        self.assert_refused(lambda: rest.post("subjects/s-value/versions",
                                              body={"schema": v1.schema_str, "id": 500}),
                            42205, "is not in import mode")
        self.assertEqual(rest.put("mode", {"mode": "READONLY"}), {"mode": "READONLY"})
        self.assertEqual(rest.get("mode"), {"mode": "READONLY"})
        ok = Schema(json.dumps(SALE_V2_OK), "AVRO")
        fresh = SchemaRegistryClient({"url": self.regs[0].url})
        self.assert_refused(lambda: fresh.register_schema("s-value", ok), 42205,
                            "is in read-only mode")
        self.assert_refused(lambda: fresh.delete_subject("s-value"), 42205, "read-only")
        self.assertEqual(fresh.get_versions("s-value"), [1])
        rest.put("mode", {"mode": "READWRITE"})
        self.assertEqual(fresh.register_schema("s-value", ok), sid + 1)

        # IMPORT on an empty registry: ids (and versions) come with the schema.
        _, target = self.registry()
        trest = target._rest_client
        self.assertEqual(trest.put("mode", {"mode": "IMPORT"}), {"mode": "IMPORT"})
        self.assert_refused(lambda: target.register_schema("t-value", v1), 42205,
                            "is not in read-write mode")
        self.assertEqual(trest.post("subjects/t-value/versions",
                                    body={"schema": v1.schema_str, "id": 777,
                                          "version": 4}), {"id": 777})
        trest.put("mode", {"mode": "READWRITE"})
        reader = SchemaRegistryClient({"url": self.regs[1].url})
        self.assertEqual(json.loads(reader.get_schema(777).schema_str), SALE_V1)
        latest = reader.get_latest_version("t-value")
        self.assertEqual((latest.schema_id, latest.version), (777, 4))
        self.assertEqual(reader.register_schema("u-value", ok), 778)

    def test_export_import_keeps_ids(self):
        src, c = self.registry()
        # Make the source's ids differ from what a fresh registry would give.
        c.register_schema("pad-value", Schema('"int"', "AVRO"))
        c.delete_subject("pad-value")
        ids = {
            "lottery.sales.v1-value": [
                c.register_schema("lottery.sales.v1-value", Schema(json.dumps(s), "AVRO"))
                for s in (SALE_V1, SALE_V2_OK)],
            "other-value": [c.register_schema("other-value", Schema('"string"', "AVRO"))],
        }
        c.set_compatibility("other-value", "NONE")
        c.set_compatibility(level="FULL")
        export = subprocess.run([JACKPOT, "registry", "export", "--url", src.url],
                                check=True, stdout=subprocess.PIPE, text=True).stdout
        path = os.path.join(src.dir, "export.json")
        with open(path, "w") as f:
            f.write(export)

        dst, _ = self.registry()
        subprocess.run([JACKPOT, "registry", "import", "--url", dst.url, path], check=True)
        t = SchemaRegistryClient({"url": dst.url})
        self.assertEqual(sorted(t.get_subjects()), sorted(ids))
        for subject, want in ids.items():
            self.assertEqual(t.get_versions(subject), list(range(1, len(want) + 1)))
            for version, sid in enumerate(want, start=1):
                got = t.get_version(subject, version)
                self.assertEqual(got.schema_id, sid)
                self.assertEqual(got.schema.schema_str, c.get_schema(sid).schema_str)
                found = t.lookup_schema(subject, got.schema)
                self.assertEqual((found.schema_id, found.version), (sid, version))
        self.assertEqual(t.get_compatibility(), "FULL")
        self.assertEqual(t.get_compatibility("other-value"), "NONE")
        self.assertEqual(t._rest_client.get("mode"), {"mode": "READWRITE"})
        # Registering on the target continues after the highest imported id.
        top = max(max(v) for v in ids.values())
        self.assertEqual(t.register_schema("next-value", Schema('"bytes"', "AVRO")), top + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
