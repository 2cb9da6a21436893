// readShard on a replicated shard stream: direct gets may be answered by a
// follower that has not applied the newest messages yet. A 404 inside the tip
// the leader reported must not make the reader skip a stored record; a request
// whose answer is lost in a failover is sent again.
import type { Store } from '../../stream/connect.js';
import { readShard } from '../../stream/shardRead.js';
import { encodeBatch } from '../../stream/recordBatch.js';

const batch = (s: string) => encodeBatch(1_000, [{ partitionKey: 'k', partitionKeyBytes: 1, data: Buffer.from(s) }]);

/** Three stored messages; `lagging` are missing on the replica answering direct gets; `gone` are missing everywhere. */
function fakeStore(opts: { lagging: number[]; gone: number[]; timeouts?: number }) {
  const stored = new Map([1, 2, 3].filter((s) => !opts.gone.includes(s)).map((s) => [s, batch(`m${s}`)]));
  const leaderGets: number[] = [];
  let timeouts = opts.timeouts ?? 0;
  const jsm = {
    streams: {
      info: async () => ({ state: { first_seq: 1, last_seq: 3, messages: stored.size, last_ts: new Date(1_000).toISOString() } }),
      async getMessage(_stream: string, q: { seq: number }) {
        leaderGets.push(q.seq);
        const data = stored.get(q.seq);
        if (!data) throw Object.assign(new Error('no message found'), { api_error: { code: 404, err_code: 10037, description: 'no message found' } });
        return { seq: q.seq, data };
      },
    },
  };
  // The reader's direct gets: a publish with a reply subject, answered on the
  // reader's reply subscription (as a replica's direct get answers).
  const answer = (payload: Uint8Array) => {
    const { seq } = JSON.parse(new TextDecoder().decode(payload)) as { seq: number };
    const data = opts.lagging.includes(seq) ? undefined : stored.get(seq);
    return data
      ? { data, headers: { code: 0, get: (h: string) => (h === 'Nats-Sequence' ? String(seq) : '') } }
      : { data: new Uint8Array(), headers: { code: 404, description: 'Message Not Found', get: () => '' } };
  };
  const subs: { prefix: string; callback: (err: null, m: unknown) => void }[] = [];
  const store = {
    nc: {
      jetstreamManager: async () => jsm,
      isClosed: () => false,
      isDraining: () => false,
      closed: () => new Promise(() => undefined),
      subscribe(subject: string, o: { callback: (err: null, m: unknown) => void }) {
        subs.push({ prefix: subject.slice(0, -1), callback: o.callback });
        return { isClosed: () => false };
      },
      publish(_subject: string, payload: Uint8Array, o: { reply: string }) {
        // An answer lost with a dead connection: the caller sees a timeout.
        if (timeouts-- > 0) return;
        const m = { subject: o.reply, ...answer(payload) };
        const sub = subs.find((x) => o.reply.startsWith(x.prefix))!;
        queueMicrotask(() => sub.callback(null, m));
      },
    },
    jsm,
  };
  return { store: store as unknown as Store, leaderGets };
}

const opts = { limit: 100, maxBytes: 1 << 20, minArrivalMs: 0 };

test('a message a lagging replica does not have yet is fetched from the leader, not skipped', async () => {
  const { store, leaderGets } = fakeStore({ lagging: [3], gone: [] });
  const r = await readShard(store, 'KDS_x_0', { jsSeq: 1, index: 0 }, opts);
  expect(r.records.map((x) => x.data.toString())).toEqual(['m1', 'm2', 'm3']);
  expect(r.next).toEqual({ jsSeq: 4, index: 0 });
  expect(leaderGets).toEqual([3]);
});

test('a message the leader does not have either (expired) is skipped', async () => {
  const { store, leaderGets } = fakeStore({ lagging: [], gone: [2] });
  const r = await readShard(store, 'KDS_x_0', { jsSeq: 1, index: 0 }, opts);
  expect(r.records.map((x) => x.data.toString())).toEqual(['m1', 'm3']);
  expect(r.atEnd).toBe(true);
  expect(leaderGets).toEqual([2]);
});

test('reads served by direct gets alone do not ask the leader', async () => {
  const { store, leaderGets } = fakeStore({ lagging: [], gone: [] });
  const r = await readShard(store, 'KDS_x_0', { jsSeq: 1, index: 0 }, opts);
  expect(r.records).toHaveLength(3);
  expect(leaderGets).toEqual([]);
});

test('a direct get whose answer never comes is sent again', async () => {
  const { store } = fakeStore({ lagging: [], gone: [], timeouts: 2 });
  const r = await readShard(store, 'KDS_x_0', { jsSeq: 1, index: 0 }, opts);
  expect(r.records.map((x) => x.data.toString())).toEqual(['m1', 'm2', 'm3']);
});
