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


if __name__ == "__main__":
    unittest.main(verbosity=2)
