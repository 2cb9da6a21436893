// nats.js's parser, with the pre-sizing of messages larger than a socket read
// (stream/natsSplitMessages.ts): every payload arrives byte for byte however
// the wire is cut, and a split message is collected in one buffer of its
// announced size instead of one regrown at every read.
import { randomBytes } from 'node:crypto';
import { Kind, Parser } from 'nats/lib/nats-base-client/parser.js';
import { presizeSplitMessages } from '../../stream/natsSplitMessages.js';

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

  test('a split message is collected in one buffer of its announced size (headers included)', () => {
    const payload = randomBytes(250_000);
    const headers = 'NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n';
    const wire = hmsg('s.h', headers, payload);
    const { p, got, state } = parser();
    const buffers = new Set<ArrayBufferLike>();
    for (const c of cuts(wire, 65_536)) {
      p.parse(c);
      const mb = state().msgBuf;
      if (mb) {
        expect(mb.capacity).toBe(Buffer.byteLength(headers) + payload.length);
        buffers.add(mb._buf.buffer);
      }
    }
    // One allocation for the whole message, not one per read.
    expect(buffers.size).toBe(1);
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0]!.data!).equals(Buffer.concat([Buffer.from(headers), payload]))).toBe(true);
  });

  test('installing twice wraps the parser once', () => {
    const parse = Parser.prototype.parse;
    expect(presizeSplitMessages()).toBe(true);
    expect(Parser.prototype.parse).toBe(parse);
  });
});
