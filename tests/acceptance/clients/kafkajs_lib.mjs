// Shared by the KafkaJS scripts of tests/acceptance/test_kafkajs.sh: a
// KafkaJS client, and reading a topic to its current end (every partition
// up to the high watermark it had when reading started), in offset order
// per partition.
import { Kafka, logLevel } from "kafkajs";

export function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) out[a[i].replace(/^--/, "")] = a[i + 1];
  return out;
}

export function kafka(brokers, clientId) {
  return new Kafka({ clientId, brokers: brokers.split(","), logLevel: logLevel.WARN });
}

// Calls onBatch(topic, partition, messages) for every partition's records
// up to the end, one partition batch at a time, in order.
export async function readToEnd(k, topic, groupId, onBatch) {
  const admin = k.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const left = new Map();
  for (const o of offsets) if (Number(o.high) > Number(o.low)) left.set(o.partition, Number(o.high));
  if (left.size === 0) return;
  const consumer = k.consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const end = left.get(batch.partition);
      if (end === undefined) return;
      const msgs = batch.messages.filter((m) => Number(m.offset) < end);
      if (msgs.length) await onBatch(batch.topic, batch.partition, msgs);
      const last = msgs.length ? Number(msgs[msgs.length - 1].offset) : -1;
      if (last + 1 >= end) {
        left.delete(batch.partition);
        if (left.size === 0) finish();
      }
    },
  });
  const timer = setTimeout(() => finish(new Error(`${topic}: not read to its end in 120 s`)), 120000);
  const err = await done;
  clearTimeout(timer);
  await consumer.disconnect();
  if (err) throw err;
}
