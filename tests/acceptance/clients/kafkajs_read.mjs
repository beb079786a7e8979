// Reads a topic to its end with KafkaJS and prints every record as one JSON
// line {"key": ..., "value": ...}, key and value decoded by
// @kafkajs/confluent-schema-registry when they are in the Confluent wire
// format (an Avro key must decode to a string), a plain key as text. Object
// keys are sorted, so equal records print equal lines.
//   node kafkajs_read.mjs --brokers B --registry URL --topic T [--avro-keys 1]
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { args, kafka, readToEnd } from "./kafkajs_lib.mjs";

const a = args();
const registry = new SchemaRegistry({ host: a.registry });
const k = kafka(a.brokers, "jackpot-acceptance-read");

function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === "object" && !Buffer.isBuffer(v))
    return Object.fromEntries(Object.keys(v).sort().map((x) => [x, sorted(v[x])]));
  return v;
}

await readToEnd(k, a.topic, `read-${a.topic}-${process.pid}`, async (t, p, msgs) => {
  for (const m of msgs) {
    const framed = m.key && m.key.length > 5 && m.key[0] === 0;
    if (a["avro-keys"] === "1" && !framed) throw new Error(`${t} [${p}] ${m.offset}: key is not Avro`);
    const key = framed ? await registry.decode(m.key) : m.key && m.key.toString();
    if (typeof key !== "string") throw new Error(`${t} [${p}] ${m.offset}: the key is not a string`);
    console.log(JSON.stringify({ key, value: sorted(await registry.decode(m.value)) }));
  }
});
