"""Reads a recommendations topic with Debian's python3-confluent-kafka (a
Consumer, and its Avro MessageSerializer with a CachedSchemaRegistryClient
for the values: python3-avro and the schema registry; keys are plain
country codes) and prints
one JSON object: records decoded per country, and the fields every record
must carry. Usage: decode_recommendations.py BOOTSTRAP REGISTRY_URL TOPIC N
(N: records to read; exits 1 if they do not arrive within a minute)."""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.avro import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

bootstrap, registry, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
avro = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "decode-" + uuid.uuid4().hex,
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
per_country, seen, deadline = {}, 0, time.time() + 60
while seen < want and time.time() < deadline:
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    v = avro.decode_message(m.value())
    assert m.key().decode() == v["country"], (m.key(), v["country"])
    assert v["prize_minor"] > 0 and v["draw_id"].startswith(v["country"] + "-"), v
    assert len(v["provenance"]["config_hash"]) == 64 and v["decision_id"], v
    assert v["status"] in ("OK", "INFEASIBLE"), v
    assert isinstance(v["constraints"], list) and isinstance(v["exploration"]["explored"], bool)
    per_country[v["country"]] = per_country.get(v["country"], 0) + 1
    seen += 1
c.close()
print(json.dumps({"records": seen, "per_country": per_country}, sort_keys=True))
sys.exit(0 if seen >= want else 1)
