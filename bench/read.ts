// `npm run bench -- read`: the stream library's shard reader on its own, the
// ceiling for every consumer built on it (consumer library direct source,
// delivery, analytics). One nats-server; one shard filled through the
// library's write path (ShardAppender + WindowedPublisher, as the runtime
// writes); then the whole backlog drained with readBatch (poll, GetRecords'
// reader) and with follow (push, SubscribeToShard's reader), each timed.
// No API server, no HTTP: what remains is JetStream and the decode step.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NATS_SERVER, startNats } from '../test/harness/nats.js';
import { connectStore } from '../stream/connect.js';
import { ensureStream } from '../stream/streams.js';
import { jsSubject } from '../stream/names.js';
import { ShardAppender } from '../stream/shardAppender.js';
import { WindowedPublisher } from '../stream/publisher.js';
import { follow, readBatch } from '../stream/shardReader.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';
import { CpuSpan, cpuLine, int, loadAverage, rounded } from './lib/runs.js';

const USAGE = `usage: npm run bench -- read [flags]
  --records N               records in the backlog (default 200000)
  --record-bytes N          Data bytes per record (default 1024)
  --records-per-message N   records the writer packs per JetStream message (default 100; 1 = one PutRecord at a time at low rate)`;

interface Row {
  reader: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  calls: number;
  cpu: Record<string, number>;
}

export async function runRead(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { records: { type: 'string' }, 'record-bytes': { type: 'string' }, 'records-per-message': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const total = Number(values.records ?? 200_000);
  const recordBytes = Number(values['record-bytes'] ?? 1024);
  const perMessage = Math.max(1, Number(values['records-per-message'] ?? 100));

  const nats = await startNats();
  const store = await connectStore({ natsUrl: nats.url, name: 'bench-read' });
  try {
    const rec = await ensureStream(store, { name: 'bench-read', shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
    const shardId = rec.shards[0]!.shardId;

    // Fill: appends of `perMessage` records, one message each, 64 in flight at a time.
    const publisher = new WindowedPublisher(store.nc, { maxInFlight: 4096, timeoutMs: 10_000 });
    const appender = new ShardAppender(publisher, 8 * 1024 * 1024);
    const subject = jsSubject(rec.uid, rec.shards[0]!.index);
    const data = Buffer.alloc(recordBytes, 0x61);
    const fillStart = performance.now();
    let written = 0;
    while (written < total) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 64 && written < total; i++) {
        const n = Math.min(perMessage, total - written);
        const recs = Array.from({ length: n }, (_, j) => ({ partitionKey: `k${(written + j) % 1000}`, partitionKeyBytes: `k${(written + j) % 1000}`.length, data }));
        batch.push(appender.append(subject, recs));
        written += n;
        // One append per event-loop turn: each becomes its own message.
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(batch);
    }
    const fillSecs = (performance.now() - fillStart) / 1000;
    publisher.close();

    const pids = { nats: nats.nodes[0]!.proc?.pid };
    const rows: Row[] = [];

    {
      const cpu = new CpuSpan(pids);
      const t0 = performance.now();
      let pos = { jsSeq: 0, index: 0 };
      let got = 0;
      let calls = 0;
      for (;;) {
        const b = await readBatch(store, rec, shardId, pos, { limit: 10_000, maxBytes: 10 * 1024 * 1024 });
        calls++;
        got += b.records.length;
        pos = b.next;
        if (b.records.length === 0) break;
      }
      const secs = (performance.now() - t0) / 1000;
      rows.push({ reader: 'readBatch (poll, 10k/10 MiB)', records: got, seconds: secs, recordsPerSec: got / secs, mbPerSec: (got * recordBytes) / secs / 2 ** 20, calls, cpu: cpu.stop() });
    }
    {
      const cpu = new CpuSpan(pids);
      const t0 = performance.now();
      const ac = new AbortController();
      let got = 0;
      let calls = 0;
      for await (const b of follow(store, rec, shardId, { jsSeq: 0, index: 0 }, { signal: ac.signal })) {
        calls++;
        got += b.records.length;
        if (got >= total) ac.abort();
      }
      const secs = (performance.now() - t0) / 1000;
      rows.push({ reader: 'follow (push)', records: got, seconds: secs, recordsPerSec: got / secs, mbPerSec: (got * recordBytes) / secs / 2 ** 20, calls, cpu: cpu.stop() });
    }

    console.log(`backlog: ${int(total)} records of ${recordBytes} B, ${perMessage} per message, written in ${fillSecs.toFixed(1)} s; load average ${loadAverage().toFixed(1)}`);
    console.log(renderTable(['reader', '', 'records', 'seconds', 'records/s', 'MiB/s', 'batches'], rows.map((r) => [r.reader, '', int(r.records), r.seconds, int(r.recordsPerSec), r.mbPerSec, int(r.calls)])));
    for (const r of rows) console.log(`cpu (cores) ${r.reader}: ${cpuLine(r.cpu)}`);
    const file = writeResults('read', rounded({ machine: machineInfo(NATS_SERVER), options: { total, recordBytes, perMessage }, fillSecs, rows, loadAverage: loadAverage() }));
    console.log(`results: ${file}`);
  } finally {
    await store.close();
    await nats.stop();
  }
}
