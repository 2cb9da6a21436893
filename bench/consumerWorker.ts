// Child process of `npm run bench -- consumer`: one consumer-group worker
// (shardline/consumer) draining a stream, through the direct source or by
// GetRecords polling through the API, leases in the JetStream KV bucket.
// Prints a JSON line with its cumulative count every 100 ms; SIGTERM stops it.
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { connectStore } from '../stream/connect.js';
import { Consumer, directSource, kinesisSource, kvLeaseStore } from '../consumer/index.js';

const [natsUrl, mode, endpoint, app, stream, id] = process.argv.slice(2) as [string, 'direct' | 'polling', string, string, string, string];
const store = await connectStore({ natsUrl, name: `bench-${id}` });
const client = new KinesisClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
  requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 16 } }),
});
let count = 0;
let bytes = 0;
let firstAt = 0;
let lastAt = 0;
const consumer = new Consumer({
  applicationName: app,
  streamName: stream,
  workerId: id,
  source: mode === 'direct' ? directSource(store) : kinesisSource(client),
  leaseStore: kvLeaseStore(store),
  idleTimeBetweenReadsMs: 200,
  // Lease moves (took, handing over, lost) on stderr: they explain a slow or uneven drain.
  log: (m) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${m}\n`),
  processorFactory: () => ({
    async processRecords(batch, cp) {
      const now = Date.now();
      firstAt ||= now;
      lastAt = now;
      count += batch.records.length;
      for (const r of batch.records) bytes += r.data.length;
      await cp.checkpoint();
    },
    async shardEnded(cp) {
      await cp.checkpoint();
    },
  }),
});
const report = () => process.stdout.write(JSON.stringify({ id, count, bytes, firstAt, lastAt, shards: consumer.heldShards().length }) + '\n');
await consumer.start();
const timer = setInterval(report, 100);
process.on('SIGTERM', async () => {
  clearInterval(timer);
  await consumer.stop();
  report();
  client.destroy();
  await store.close();
  process.exit(0);
});
