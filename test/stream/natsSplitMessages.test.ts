// nats.js's parser, with the pre-sizing of messages larger than a socket read
// (stream/natsSplitMessages.ts): every payload arrives byte for byte however
// the wire is cut, a split message is collected in one buffer of at least its
// announced size instead of one regrown at every read, and buffers given back
// serve later messages, each to one message at a time.
import { randomBytes } from 'node:crypto';
import { Kind, Parser } from 'nats/lib/nats-base-client/parser.js';
import { pooledMessageBytes, presizeSplitMessages, recycleMessageBytes } from '../../stream/natsSplitMessages.js';

interface Got { kind: number; data?: Uint8Array; subject?: string }

/** A parser whose dispatcher keeps what it is given. */
function parser(): { p: Parser; got: Got[]; state: () => { msgBuf?: { _buf: Uint8Array; capacity: number } } } {
  const got: Got[] = [];
  const p = new Parser({ push: (e: { kind: number; msg?: { subject: Uint8Array }; data?: Uint8Array }) => {
    // The data may be a view of a buffer the parser reuses: copy it as a subscriber would read it.
    got.push({ kind: e.kind, data: e.data ? Uint8Array.from(e.data) : undefined, subject: e.msg ? Buffer.from(e.msg.subject).toString() : undefined });
  } } as never);
  return { p, got, state: () => p as never };
}

const msg = (subject: string, payload: Uint8Array) => Buffer.concat([Buffer.from(`MSG ${subject} 1 ${payload.length}\r\n`), payload, Buffer.from('\r\n')]);
const hmsg = (subject: string, headers: string, payload: Uint8Array) => {
  const h = Buffer.from(headers);
  return Buffer.concat([Buffer.from(`HMSG ${subject} 1 ${h.length} ${h.length + payload.length}\r\n`), h, payload, Buffer.from('\r\n')]);
};
const cuts = (wire: Buffer, size: number) => Array.from({ length: Math.ceil(wire.length / size) }, (_, i) => wire.subarray(i * size, (i + 1) * size));

beforeAll(() => expect(presizeSplitMessages()).toBe(true));

describe('nats.js parser with split messages pre-sized', () => {
  test('payloads arrive whole across 64 KB reads: large, small and empty messages, cut anywhere', () => {
    const big = randomBytes(300_000);
    const small = randomBytes(100);
    const other = randomBytes(70_000);
    const wire = Buffer.concat([msg('a.big', big), msg('a.small', small), msg('a.empty', Buffer.alloc(0)), msg('a.other', other)]);
    for (const size of [65_536, 1_000, 17, 1]) {
      const { p, got } = parser();
      for (const c of cuts(wire, size)) p.parse(c);
      expect(got.map((g) => g.subject)).toEqual(['a.big', 'a.small', 'a.empty', 'a.other']);
      expect(got.every((g) => g.kind === Kind.MSG)).toBe(true);
      expect(Buffer.from(got[0]!.data!).equals(big)).toBe(true);
      expect(Buffer.from(got[1]!.data!).equals(small)).toBe(true);
      expect(got[2]!.data!.length).toBe(0);
      expect(Buffer.from(got[3]!.data!).equals(other)).toBe(true);
    }
  });

  test('a split message is collected in one buffer of at least its announced size (headers included)', () => {
    const payload = randomBytes(250_000);
    const headers = 'NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n';
    const wire = hmsg('s.h', headers, payload);
    const { p, got, state } = parser();
    const buffers = new Set<ArrayBufferLike>();
    for (const c of cuts(wire, 65_536)) {
      p.parse(c);
      const mb = state().msgBuf;
      if (mb) {
        expect(mb.capacity).toBeGreaterThanOrEqual(Buffer.byteLength(headers) + payload.length);
        buffers.add(mb._buf.buffer);
      }
    }
    // One allocation for the whole message, not one per read.
    expect(buffers.size).toBe(1);
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0]!.data!).equals(Buffer.concat([Buffer.from(headers), payload]))).toBe(true);
  });

  test('buffers given back serve the next split messages, which arrive whole; each is lent to one message at a time', () => {
    const { p, got } = parser();
    const one = randomBytes(200_000);
    for (const c of cuts(msg('r.1', one), 65_536)) p.parse(c);
    const first = got[0]!;
    // The dispatched view, not the copy the test dispatcher keeps: parse again keeping the view itself.
    const views: Uint8Array[] = [];
    const q = new Parser({ push: (e: { data?: Uint8Array }) => { if (e.data) views.push(e.data); } } as never);
    for (const c of cuts(msg('r.2', one), 65_536)) q.parse(c);
    expect(Buffer.from(views[0]!).equals(one)).toBe(true);
    expect(Buffer.from(first.data!).equals(one)).toBe(true);
    const before = pooledMessageBytes();
    // Scribbled on, then given back twice, with a view of something else beside it.
    views[0]!.fill(0xee);
    recycleMessageBytes([views[0]!, views[0]!.subarray(10), new Uint8Array(100_000)]);
    expect(pooledMessageBytes()).toBe(before + views[0]!.buffer.byteLength);
    // Two messages of the same size class at once: the first takes the pooled buffer, the second a new one.
    const a = randomBytes(180_000);
    const b = randomBytes(190_000);
    const later: Uint8Array[] = [];
    const r = new Parser({ push: (e: { data?: Uint8Array }) => { if (e.data) later.push(e.data); } } as never);
    const s2 = new Parser({ push: (e: { data?: Uint8Array }) => { if (e.data) later.push(e.data); } } as never);
    const wa = cuts(msg('r.a', a), 65_536);
    const wb = cuts(msg('r.b', b), 65_536);
    r.parse(wa[0]!);
    s2.parse(wb[0]!);
    for (const c of wa.slice(1)) r.parse(c);
    for (const c of wb.slice(1)) s2.parse(c);
    expect(later.map((v) => v.buffer === views[0]!.buffer)).toEqual([true, false]);
    expect(Buffer.from(later[0]!).equals(a)).toBe(true);
    expect(Buffer.from(later[1]!).equals(b)).toBe(true);
    expect(pooledMessageBytes()).toBe(before);
  });

  test('installing twice wraps the parser once', () => {
    const parse = Parser.prototype.parse;
    expect(presizeSplitMessages()).toBe(true);
    expect(Parser.prototype.parse).toBe(parse);
  });
});
