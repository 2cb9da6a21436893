// Child process entry: the ceiling for an analytics worker's events/s per
// core over one input stream (bench/analyticsE2e.ts), measured in a process
// of its own, as the worker runs in its own. Prints a Ceiling as JSON.
//   node dist/bench/ceilingChild.js <nats url> <stream>
// Its 4 shards are read in parallel, 10,000 records a batch as the workers
// read, by this process's CPU time, after a warm-up pass (compiled code and
// connections, as a running worker has them): with readBatch (a record
// object each), then also JSON.parse of each record, which every query over
// JSON input did before anything else; then the partial workers' own input
// path: packed reads (no object per record, the messages' buffers reused once
// read, as theirs are), then also ColumnDecoder of each record into the 3
// columns the tumbling queries read (all 8 validated).
import { ColumnDecoder } from '../analytics/columnDecoder.js';
import { ColumnBatch } from '../analytics/engine/columnBatch.js';
import { parseSqlType } from '../analytics/engine/types.js';
import { connectStore } from '../stream/connect.js';
import { readBatch, readBatchPacked, type Position } from '../stream/shardReader.js';
import { getStream } from '../stream/streams.js';
import { COLUMNS, type Ceiling } from './analyticsE2e.js';

const [natsUrl, stream] = process.argv.slice(2) as [string, string];
const store = await connectStore({ natsUrl, name: 'bench-ceiling' });
const rec = (await getStream(store, stream))!;
const types = COLUMNS.map((c) => parseSqlType(c.sqlType));
const tumbling = COLUMNS.map((c) => ['EVENT_TYPE', 'BIDDER', 'PRICE'].includes(c.name));

async function pass(mode: 'read' | 'parse' | 'packed' | 'decode'): Promise<number> {
  const c0 = process.cpuUsage();
  const counts = await Promise.all(rec.shards.map(async (s) => {
    let pos: Position = { jsSeq: 0, index: 0 };
    let n = 0;
    let sink = 0;
    const decoder = new ColumnDecoder({ type: 'JSON', rowPath: '$' }, COLUMNS);
    const batch = new ColumnBatch(types, tumbling, 10_000);
    for (;;) {
      if (mode === 'packed' || mode === 'decode') {
        const b = await readBatchPacked(store, rec, s.shardId, pos, { limit: 10_000, maxBytes: 10 * 1024 * 1024 });
        if (b.packed.count === 0) return n + (sink < 0 ? 1 : 0);
        if (mode === 'decode') {
          batch.clear();
          b.packed.forEach((m, _i, c) => { if (!decoder.decode(m.payload, c.dataStart, c.dataEnd, batch, m.arrivalMs)) sink--; });
        }
        n += b.packed.count;
        pos = b.next;
        // Its message buffers back for the next reads, as the partial workers give theirs (packedBytesDuringCallOnly).
        b.packed.recycle();
        continue;
      }
      const b = await readBatch(store, rec, s.shardId, pos, { limit: 10_000, maxBytes: 10 * 1024 * 1024 });
      if (b.records.length === 0) return n + (sink < 0 ? 1 : 0);
      if (mode === 'parse') for (const r of b.records) sink += (JSON.parse(r.data.toString('utf8')) as { event_type: number }).event_type;
      n += b.records.length;
      pos = b.next;
    }
  }));
  const cpu = process.cpuUsage(c0);
  return counts.reduce((a, b) => a + b, 0) / ((cpu.user + cpu.system) / 1e6);
}

await pass('read');
await pass('decode');
const out: Ceiling = {
  stream, events: 0,
  readPerCore: await pass('read'), readParsePerCore: await pass('parse'),
  packedPerCore: await pass('packed'), packedDecodePerCore: await pass('decode'),
};
await store.close();
process.stdout.write(JSON.stringify(out));
