// Copies the input topics from one cluster to another through KafkaJS and
// @kafkajs/confluent-schema-registry: every value that decodes is decoded
// with its writer schema and encoded again with the same schema id (the
// bytes must come out identical), the others are copied as they are; keys
// are the country (decoded first when the key is Avro); the Kafka timestamp
// is kept. Produced with KafkaJS's default partitioner (murmur2, the Java
// client's). Prints one JSON line of counts.
//   node kafkajs_copy.mjs --from B1 --to B2 --registry URL --topics t1,t2,t3
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { args, kafka, readToEnd } from "./kafkajs_lib.mjs";

const a = args();
const registry = new SchemaRegistry({ host: a.registry });
const from = kafka(a.from, "jackpot-acceptance-copy-in");
const to = kafka(a.to, "jackpot-acceptance-copy-out");
const producer = to.producer({ maxInFlightRequests: 1, allowAutoTopicCreation: false });
await producer.connect();
const counts = { read: 0, decoded: 0, reencoded_identical: 0, raw: 0 };

async function reencode(value) {
  if (!value || value.length < 5 || value[0] !== 0) return null;
  let decoded;
  try {
    decoded = await registry.decode(value);
  } catch (e) {
    return null; // a record the engine is meant to dead-letter
  }
  counts.decoded++;
  const again = await registry.encode(value.readInt32BE(1), decoded);
  if (Buffer.compare(again, value) === 0) counts.reencoded_identical++;
  return again;
}

for (const topic of a.topics.split(",")) {
  await readToEnd(from, topic, `copy-${topic}-${process.pid}`, async (t, partition, msgs) => {
    const out = [];
    for (const m of msgs) {
      counts.read++;
      let value = await reencode(m.value);
      if (!value) {
        value = m.value;
        counts.raw++;
      }
      let key = m.key;
      if (key && key.length > 5 && key[0] === 0) key = Buffer.from(String(await registry.decode(key)));
      out.push({ key, value, timestamp: m.timestamp, headers: m.headers });
    }
    await producer.send({ topic: t, messages: out, acks: -1 });
  });
}
await producer.disconnect();
console.log(JSON.stringify(counts));
