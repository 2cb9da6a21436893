// `npm run bench -- read-windows`: CPU per record of the one shard reader
// (stream/shardRead.ts readShard, under readBatch and every consumer) by how
// many records the writer packed into each JetStream message. One nats-server;
// one shard per records-per-message value, filled through the library's write
// path (ShardAppender + WindowedPublisher); then each shard drained with
// readShard at 10,000 records / 10 MiB a call (as GetRecords and the workers
// read), alternating between the reader as it is (windows sized to the
// limits, direct requests over one reply subscription) and as it was
// (`baseline`: a fixed window of 64 messages, each get an nc.request()), in the
// same process and run.
// Per core = records / this process's CPU seconds (all its threads, GC included).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NATS_SERVER, startNats } from '../test/harness/nats.js';
import { connectStore } from '../stream/connect.js';
import { ensureStream } from '../stream/streams.js';
import { jsStreamName, jsSubject } from '../stream/names.js';
import { ShardAppender } from '../stream/shardAppender.js';
import { WindowedPublisher } from '../stream/publisher.js';
import { readShard } from '../stream/shardRead.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';
import { int, loadAverage, rounded } from './lib/runs.js';
import { cpuSeconds } from './lib/procs.js';

const USAGE = `usage: npm run bench -- read-windows [flags]
  --records N               records per shard (default 200000)
  --record-bytes N          Data bytes per record (default 246: the analytics bench's Nexmark JSON)
  --per-message LIST        records per JetStream message, one shard each (default 10,125,284,500)
  --rounds N                timed drains per reader and shard, after one warm-up drain each (default 3)`;

interface Row {
  perMessage: number;
  reader: string;
  /** Median over the rounds. */
  recordsPerCore: number;
  cpuUsPerRecord: number;
  recordsPerSec: number;
  natsCores: number;
  calls: number;
}

const READERS: { name: string; baseline: boolean }[] = [
  { name: 'readShard', baseline: false },
  { name: 'baseline (before)', baseline: true },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runReadWindows(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { records: { type: 'string' }, 'record-bytes': { type: 'string' }, 'per-message': { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const total = Number(values.records ?? 200_000);
  const recordBytes = Number(values['record-bytes'] ?? 246);
  const perMessages = (values['per-message'] ?? '10,125,284,500').split(',').map((s) => Math.max(1, Number(s)));
  const rounds = Math.max(1, Number(values.rounds ?? 3));

  const nats = await startNats();
  const store = await connectStore({ natsUrl: nats.url, name: 'bench-read-windows' });
  const natsPid = nats.nodes[0]!.proc?.pid;
  try {
    const publisher = new WindowedPublisher(store.nc, { maxInFlight: 4096, timeoutMs: 10_000 });
    const appender = new ShardAppender(publisher, 8 * 1024 * 1024);
    const shards: { perMessage: number; jsStream: string }[] = [];
    for (const perMessage of perMessages) {
      const rec = await ensureStream(store, { name: `bench-read-windows-${perMessage}`, shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
      const subject = jsSubject(rec.uid, rec.shards[0]!.index);
      let written = 0;
      while (written < total) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 16 && written < total; i++) {
          const n = Math.min(perMessage, total - written);
          const recs = Array.from({ length: n }, (_, j) => {
            const partitionKey = `bidder-${(written + j) * 7919 % 100_000}`;
            const data = Buffer.alloc(recordBytes, 0x61);
            data.write(`{"n":${written + j}}`);
            return { partitionKey, partitionKeyBytes: partitionKey.length, data };
          });
          batch.push(appender.append(subject, recs));
          written += n;
          // One append per event-loop turn: each becomes its own message.
          await new Promise((r) => setImmediate(r));
        }
        await Promise.all(batch);
      }
      shards.push({ perMessage, jsStream: jsStreamName(rec.uid, rec.shards[0]!.index) });
    }
    publisher.close();

    const drain = async (jsStream: string, baseline: boolean) => {
      let pos = { jsSeq: 0, index: 0 };
      let got = 0;
      let calls = 0;
      for (;;) {
        const r = await readShard(store, jsStream, pos, { limit: 10_000, maxBytes: 10 * 1024 * 1024, minArrivalMs: 0, baseline });
        calls++;
        got += r.records.length;
        pos = r.next;
        if (r.atEnd) return { got, calls };
      }
    };
    const rows: Row[] = [];
    for (const s of shards) {
      // Warm-up: compiled code and the connection, as a running reader has them.
      for (const r of READERS) await drain(s.jsStream, r.baseline);
      const samples = READERS.map(() => ({ perCore: [] as number[], perSec: [] as number[], nats: [] as number[], calls: 0 }));
      for (let round = 0; round < rounds; round++) {
        for (const [i, r] of READERS.entries()) {
          const c0 = process.cpuUsage();
          const n0 = cpuSeconds(natsPid);
          const t0 = performance.now();
          const { got, calls } = await drain(s.jsStream, r.baseline);
          const secs = (performance.now() - t0) / 1000;
          const c = process.cpuUsage(c0);
          if (got !== total) throw new Error(`read ${got} of ${total} records (${s.perMessage} per message, ${r.name})`);
          samples[i]!.perCore.push(got / ((c.user + c.system) / 1e6));
          samples[i]!.perSec.push(got / secs);
          samples[i]!.nats.push((cpuSeconds(natsPid) - n0) / secs);
          samples[i]!.calls = calls;
        }
      }
      READERS.forEach((r, i) => {
        const perCore = median(samples[i]!.perCore);
        rows.push({ perMessage: s.perMessage, reader: r.name, recordsPerCore: perCore, cpuUsPerRecord: 1e6 / perCore, recordsPerSec: median(samples[i]!.perSec), natsCores: median(samples[i]!.nats), calls: samples[i]!.calls });
      });
    }

    console.log(`${int(total)} records of ${recordBytes} B per shard; readShard at 10,000 records / 10 MiB a call; median of ${rounds} drains each; load average ${loadAverage().toFixed(1)}`);
    console.log(renderTable(['records/message', 'reader', 'records/s per core', 'µs CPU/record', 'records/s', 'nats-server cores', 'calls'],
      rows.map((r) => [String(r.perMessage), r.reader, int(r.recordsPerCore), r.cpuUsPerRecord, int(r.recordsPerSec), r.natsCores, int(r.calls)])));
    const file = writeResults('read-windows', rounded({ machine: machineInfo(NATS_SERVER), options: { total, recordBytes, perMessages, rounds }, rows, loadAverage: loadAverage() }));
    console.log(`results: ${file}`);
  } finally {
    await store.close();
    await nats.stop();
  }
}
