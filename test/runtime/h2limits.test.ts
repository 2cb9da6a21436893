// HTTP/2 limits on the shared port (issue 12, fault 3), for h2c and for TLS h2
// by ALPN: concurrent streams, header list size, and SETTINGS / PING /
// RST_STREAM floods. Each probe is a client that breaks the limit, written
// frame by frame on a raw socket (node:http2 clients obey the limits, so they
// cannot break them), and the oracle is the frames the server sends back
// (RST_STREAM or GOAWAY with their RFC 9113 error codes). After each probe a
// node:http2 client on another connection is still served.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { H2_MAX_HEADER_LIST_BYTES, listen, type Listener } from '../../runtime/http/server.js';
import type { Duplex } from 'node:stream';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const MAX_STREAMS = 5;

// Frame types (RFC 9113 section 6).
const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, CONTINUATION = 9;
const END_STREAM = 0x1, END_HEADERS = 0x4, ACK = 0x1;

interface Frame { type: number; flags: number; stream: number; payload: Buffer }

function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

const int7 = (n: number): Buffer => {
  if (n < 127) return Buffer.from([n]);
  const out = [0x7f];
  for (n -= 127; n >= 128; n >>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
};
/** HPACK literal field without indexing, new name (RFC 7541 6.2.2). */
const literal = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0]), int7(name.length), Buffer.from(name), int7(value.length), Buffer.from(value)]);
/** :method GET, :scheme http (static table), :path, :authority. */
const requestBlock = (p: string): Buffer => Buffer.concat([Buffer.from([0x82, 0x86, 0x44]), int7(p.length), Buffer.from(p), Buffer.from([0x41, 9]), Buffer.from('127.0.0.1')]);

/** A header block as HEADERS + CONTINUATION frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE). */
function headerFrames(stream: number, block: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let o = 0; o < block.length; o += 16384) chunks.push(Buffer.from(block.subarray(o, o + 16384)));
  return chunks.map((c, i) => {
    const last = i === chunks.length - 1 ? END_HEADERS : 0;
    return i === 0 ? frame(HEADERS, END_STREAM | last, stream, c) : frame(CONTINUATION, last, stream, c);
  });
}
const request = (stream: number, p = '/'): Buffer => headerFrames(stream, requestBlock(p))[0]!;

/** A raw h2 connection that records every frame the server sends. */
class RawH2 {
  frames: Frame[] = [];
  closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private constructor(readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static async open(port: number, secure: boolean, ackSettings = true): Promise<RawH2> {
    const socket: Duplex = secure
      ? await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => resolve(s));
        s.once('error', reject);
      })
      : await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
    const c = new RawH2(socket);
    c.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(SETTINGS, 0, 0));
    await c.until((f) => f.type === SETTINGS && f.flags === 0);
    if (ackSettings) c.write(frame(SETTINGS, ACK, 0));
    return c;
  }

  write(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  async until(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > end) throw new Error(`no such frame within ${ms} ms; got ${this.frames.length} frames, types ${[...new Set(this.frames.map((x) => x.type))].join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  rstCode(stream: number): number | undefined {
    const f = this.frames.find((x) => x.type === RST_STREAM && x.stream === stream);
    return f?.payload.readUInt32BE(0);
  }

  /** The GOAWAY error code, once the server sent one. */
  async goaway(ms = 5000): Promise<number> {
    return (await this.until((f) => f.type === GOAWAY, ms)).payload.readUInt32BE(4);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

let dir: string;
let pair: { cert: Buffer; key: Buffer };
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-h2-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-subj', '/CN=localhost', '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'pipe' });
  pair = { cert: fs.readFileSync(path.join(dir, 'c.pem')), key: fs.readFileSync(path.join(dir, 'k.pem')) };
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['h2c', false],
  ['TLS h2', true],
])('%s', (_name, secure) => {
  let server: Listener;
  const seen: string[] = [];
  const held: http2.Http2ServerResponse[] = [];
  const events: string[] = [];
  beforeAll(async () => {
    server = await listen((req, res) => {
      seen.push(req.url!);
      if (req.url === '/hold') held.push(res as http2.Http2ServerResponse);
      else res.end('ok');
    }, { port: 0, host: '127.0.0.1', limits: { h2MaxConcurrentStreams: MAX_STREAMS }, tls: secure ? pair : undefined, onEvent: (e) => events.push(e) });
  });
  afterAll(async () => {
    for (const r of held.splice(0)) r.end();
    await server.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  /** Another client, on its own connection, is served. */
  async function otherClientServed(): Promise<void> {
    const c = http2.connect(`${secure ? 'https' : 'http'}://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
    try {
      const r = c.request({ ':path': '/other' });
      let body = '';
      r.on('data', (d) => (body += d));
      const status = await new Promise<number>((resolve, reject) => {
        r.on('response', (h) => resolve(h[':status'] as number));
        r.on('error', reject);
      });
      await new Promise((resolve) => r.on('end', resolve));
      expect([status, body]).toEqual([200, 'ok']);
    } finally {
      c.close();
    }
  }

  test('in the first flight (before the client acknowledges our SETTINGS), streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused (RST_STREAM REFUSED_STREAM); the admitted ones complete', async () => {
    const c = await RawH2.open(server.port, secure, false);
    const settings = c.frames.find((f) => f.type === SETTINGS && f.flags === 0)!;
    // The server advertises the limit: setting 0x3 in its SETTINGS.
    const advertised = new Map<number, number>();
    for (let o = 0; o + 6 <= settings.payload.length; o += 6) advertised.set(settings.payload.readUInt16BE(o), settings.payload.readUInt32BE(o + 2));
    expect(advertised.get(0x3)).toBe(MAX_STREAMS);
    const ids = Array.from({ length: MAX_STREAMS + 3 }, (_, i) => 1 + 2 * i);
    c.write(...ids.map((id) => request(id, '/hold')));
    const over = ids.slice(MAX_STREAMS);
    for (const id of over) await c.until((f) => f.type === RST_STREAM && f.stream === id);
    expect(over.map((id) => c.rstCode(id))).toEqual(over.map(() => NGHTTP2_REFUSED_STREAM));
    await until(() => held.length === MAX_STREAMS);
    expect(seen.filter((u) => u === '/hold')).toHaveLength(MAX_STREAMS);
    await otherClientServed();
    for (const r of held.splice(0)) r.end('done');
    for (const id of ids.slice(0, MAX_STREAMS)) await c.until((f) => f.type === HEADERS && f.stream === id);
    expect(ids.slice(0, MAX_STREAMS).map((id) => c.rstCode(id))).toEqual(ids.slice(0, MAX_STREAMS).map(() => undefined));
    c.destroy();
  });

  test('once the limit is acknowledged, a client exceeding it breaks the protocol: its connection is closed; others are served', async () => {
    const c = await RawH2.open(server.port, secure, true);
    const ids = Array.from({ length: MAX_STREAMS + 3 }, (_, i) => 1 + 2 * i);
    c.write(...ids.map((id) => request(id, '/hold')));
    await within(c.closed, 5000);
    // At most the admitted streams reached the handler, and none is left held open.
    expect(seen.length).toBeLessThanOrEqual(MAX_STREAMS);
    await until(() => held.every((r) => r.stream.destroyed));
    held.splice(0);
    await otherClientServed();
  });

  const bigBlock = () => {
    const parts = [requestBlock('/big')];
    for (let i = 0; i < 80; i++) parts.push(literal(`x-h${i}`, 'v'.repeat(1000)));
    const block = Buffer.concat(parts);
    expect(block.length).toBeGreaterThan(H2_MAX_HEADER_LIST_BYTES);
    return block;
  };

  test.each([
    ['acknowledged our SETTINGS', true],
    ['never acknowledges our SETTINGS', false],
  ])('a header list over SETTINGS_MAX_HEADER_LIST_SIZE from a client that %s: RST_STREAM ENHANCE_YOUR_CALM, never handled; the connection serves on', async (_how, ack) => {
    const c = await RawH2.open(server.port, secure, ack);
    c.write(...headerFrames(1, bigBlock()));
    await c.until((f) => f.type === RST_STREAM && f.stream === 1);
    expect(c.rstCode(1)).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
    c.write(request(3, '/after'));
    await c.until((f) => f.type === DATA && f.stream === 3);
    expect(seen).toEqual(['/after']);
    c.destroy();
  });

  test('a node:http2 client sending a header list over the limit gets a stream error; the server never handles it', async () => {
    const client = http2.connect(`${secure ? 'https' : 'http'}://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
    client.on('error', () => undefined);
    const headers: http2.OutgoingHttpHeaders = { ':path': '/big' };
    for (let i = 0; i < 80; i++) headers[`x-h${i}`] = 'v'.repeat(1000);
    await new Promise((r) => client.once('remoteSettings', r));
    const r = client.request(headers);
    const err = await new Promise<Error>((resolve) => {
      r.on('error', resolve);
      r.on('response', () => resolve(new Error('answered')));
    });
    expect((err as NodeJS.ErrnoException).code).toBe('ERR_HTTP2_STREAM_ERROR');
    expect(seen).toEqual([]);
    client.close();
    await otherClientServed();
  });

  test.each([
    ['PING', () => frame(PING, 0, 0, Buffer.alloc(8))],
    ['SETTINGS', () => frame(SETTINGS, 0, 0)],
  ])('a %s flood is refused (GOAWAY, or the session dropped); others are served', async (_kind, make) => {
    const c = await RawH2.open(server.port, secure);
    // Normal use is answered: a few frames get their ACKs.
    c.write(make(), make());
    await c.until((f) => f.type === (_kind === 'PING' ? PING : SETTINGS) && f.flags === ACK && (_kind === 'PING' || c.frames.filter((x) => x.type === SETTINGS && x.flags === ACK).length >= 2));
    // 20,000 in one write, not reading the ACKs for a second (over TLS the
    // server decrypts a record at a time and could otherwise keep up).
    c.socket.pause();
    c.write(...Array.from({ length: 20_000 }, make));
    await new Promise((r) => setTimeout(r, 1000));
    c.socket.resume();
    // Refused: GOAWAY (h2c, where the whole flood arrives at once), or the
    // session dropped (over TLS): not 20,000 answers.
    const ended = await Promise.race([c.goaway(10_000).then(() => 'goaway'), c.closed.then(() => 'closed')]);
    expect(['goaway', 'closed']).toContain(ended);
    expect(c.frames.filter((f) => f.flags === ACK && f.type !== SETTINGS).length).toBeLessThan(20_000);
    c.destroy();
    await otherClientServed();
  });

  test('rapid reset (streams opened and reset at once, CVE-2023-44487) is answered with GOAWAY; others are served', async () => {
    const c = await RawH2.open(server.port, secure);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(0x8); // CANCEL
    const bufs: Buffer[] = [];
    for (let i = 0; i < 5000; i++) bufs.push(request(1 + 2 * i, '/hold'), frame(RST_STREAM, 0, 1 + 2 * i, cancel));
    c.write(...bufs);
    expect(await c.goaway()).toBeGreaterThan(0);
    c.destroy();
    // Far fewer than the 5,000 requests reached the handler.
    expect(seen.length).toBeLessThan(5000);
    for (const r of held.splice(0)) r.end();
    await otherClientServed();
  });
});

async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((_, reject) => (t = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)))]);
  clearTimeout(t);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
