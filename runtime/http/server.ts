// One port, two protocols: HTTP/1.1 and HTTP/2 cleartext with prior knowledge
// (what the AWS SDK v3 speaks to an http:// endpoint). The first bytes of a
// connection tell them apart: an h2 connection opens with "PRI * HTTP/2.0".
// With a certificate (`tls`), the port speaks only TLS, and ALPN chooses h2 or
// http/1.1.
//
// Everything here happens before authentication, so every stage has a limit
// (docs/limits.md): a connection cap per
// process, a deadline for the first bytes (or the TLS handshake), Node's
// header and whole-request deadlines for HTTP/1.1, an idle deadline for
// keep-alive connections and h2 sessions, and h2 stream/memory limits.
// Body deadlines and the body memory budget are the handler's (handler.ts).
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { ConnectionTable, defaultConnectionCap } from './connections.js';

export type Request = http.IncomingMessage | http2.Http2ServerRequest;
export type Response = http.ServerResponse | http2.Http2ServerResponse;
export type Handler = (req: Request, res: Response) => void;

export interface Listener {
  port: number;
  close(): Promise<void>;
  /** Hooks for streams the compatibility API cannot express (event streams). */
  h2: http2.Http2Server;
  connections: ConnectionTable;
  /** Swaps the certificate for new connections (TLS only). */
  setCertificate?(pair: CertificatePair): void;
}

/** PEM certificate chain and private key. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

export interface ListenLimits {
  /** All request headers must arrive within this (HTTP/1.1; h2 headers arrive as one frame). */
  headersTimeoutMs: number;
  /** The whole request, headers and body, must arrive within this (HTTP/1.1 backstop; the handler times bodies on both protocols). */
  requestTimeoutMs: number;
  /** A keep-alive connection or h2 session with nothing in flight is closed after this. */
  idleTimeoutMs: number;
  /** A new connection must send its first bytes (or finish the TLS handshake) within this. */
  sniffTimeoutMs: number;
  /** Open connections per process; at the cap the longest-idle one is closed for a newcomer. */
  maxConnections: number;
  /** Concurrent streams per h2 session (SETTINGS_MAX_CONCURRENT_STREAMS). */
  h2MaxConcurrentStreams: number;
  /** Memory an h2 session may hold (buffered frames, unacknowledged data), MiB. */
  h2MaxSessionMemoryMiB: number;
}

export const DEFAULT_LIMITS: ListenLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  // Above the 60 s idle timeout of common load balancers, so they close first.
  idleTimeoutMs: 65_000,
  sniffTimeoutMs: 10_000,
  maxConnections: defaultConnectionCap(),
  h2MaxConcurrentStreams: 1000,
  h2MaxSessionMemoryMiB: 32,
};

export interface ListenOptions {
  port: number;
  host?: string;
  limits?: Partial<ListenLimits>;
  /** Serve TLS (h2 and http/1.1 by ALPN) with this certificate instead of cleartext. */
  tls?: CertificatePair;
  /** One line per connection-level event (refused, sniff timeout). */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/** SETTINGS_MAX_HEADER_LIST_SIZE: Kinesis requests carry a few hundred bytes of headers. */
export const H2_MAX_HEADER_LIST_BYTES = 64 * 1024;

/** A header list's size as HTTP/2 counts it (RFC 9113 6.5.2: name + value + 32 per field). */
function h2HeaderListBytes(raw: string[]): number {
  let n = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 32;
  return n;
}

export async function listen(handler: Handler, opts: ListenOptions): Promise<Listener> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const onEvent = opts.onEvent ?? (() => undefined);
  const table = new ConnectionTable(limits.maxConnections);
  // Count what is in flight per connection, so the cap evicts only idle ones.
  const tracked: Handler = (req, res) => {
    // nghttp2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the client has
    // acknowledged our SETTINGS; a client that never does had lists of
    // megabytes served. Refuse them the same way (RST_STREAM ENHANCE_YOUR_CALM).
    if ('stream' in req && h2HeaderListBytes(req.rawHeaders) > H2_MAX_HEADER_LIST_BYTES) {
      req.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      onEvent('stream refused', { reason: 'header list too large', max: H2_MAX_HEADER_LIST_BYTES });
      return;
    }
    const conn = 'stream' in req ? (req as http2.Http2ServerRequest).stream.session : req.socket;
    const done = table.begin(conn);
    res.once('close', done);
    res.once('finish', done);
    handler(req, res);
  };
  const h1 = http.createServer(
    {
      keepAliveTimeout: limits.idleTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      // How often the header/request deadlines are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(250, Math.min(1000, limits.headersTimeoutMs / 4)),
    },
    tracked,
  );
  // Node starts enforcing headersTimeout/requestTimeout (its periodic
  // connection check) when the server emits 'listening'. This server never
  // listens itself (the TCP server hands it connections), so say it does.
  h1.emit('listening');
  const h2 = http2.createServer(
    {
      settings: { maxConcurrentStreams: limits.h2MaxConcurrentStreams, maxHeaderListSize: H2_MAX_HEADER_LIST_BYTES },
      maxSessionMemory: limits.h2MaxSessionMemoryMiB,
      // A peer that keeps opening streams past the limit, or sends garbage frames, is dropped.
      maxSessionRejectedStreams: 100,
      maxSessionInvalidFrames: 1000,
    },
    tracked,
  );
  // Idle h2 sessions: with no listener for 'timeout', Node destroys the session.
  h2.setTimeout(limits.idleTimeoutMs);
  h2.on('sessionError', () => undefined);

  const toH2 = (session: Duplex, raw: Duplex) => {
    const link = (s: http2.ServerHttp2Session) => table.link(s, raw);
    h2.once('session', link);
    h2.emit('connection', session);
    h2.off('session', link);
  };

  const tlsFront = opts.tls
    ? tls.createServer({ ...opts.tls, ALPNProtocols: ['h2', 'http/1.1'], handshakeTimeout: limits.sniffTimeoutMs })
    : undefined;
  tlsFront?.on('tlsClientError', (_e, s) => s.destroy());
  tlsFront?.on('secureConnection', (secure: tls.TLSSocket) => {
    const raw = (secure as unknown as { _parent?: net.Socket })._parent;
    if (raw) {
      raw.setTimeout(0);
      raw.removeAllListeners('timeout');
      table.link(secure, raw);
    }
    secure.on('error', () => secure.destroy());
    if (secure.alpnProtocol === 'h2') toH2(secure, raw ?? secure);
    else h1.emit('connection', secure);
  });

  const tcp = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    if (!table.admit(socket)) {
      onEvent('connection refused', { reason: 'connection cap reached', max: limits.maxConnections, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    // The first bytes (or TLS handshake) must come soon; a silent connection is dropped.
    socket.setTimeout(limits.sniffTimeoutMs, () => {
      onEvent('connection closed', { reason: 'nothing received in time', timeoutMs: limits.sniffTimeoutMs, remote: socket.remoteAddress });
      socket.destroy();
    });
    const handOff = () => {
      socket.setTimeout(0);
      socket.removeAllListeners('timeout');
    };
    if (tlsFront) {
      // The TLS server does the handshake and ALPN; 'secureConnection' dispatches.
      tlsFront.emit('connection', socket);
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      // Wait for enough bytes to decide, unless they already differ.
      if (n < H2_PREFACE.length && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return;
      socket.off('data', onData);
      socket.pause();
      handOff();
      const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
      if (isH2) {
        // http2 turns Nagle off only on a net.Socket it is handed; it cannot
        // reach through our Duplex. Left on, each small WINDOW_UPDATE waited
        // for the peer's delayed ACK (~40 ms), capping uploads near 1 MB/s.
        socket.setNoDelay(true);
        toH2(replay(socket, head), socket);
      } else {
        socket.unshift(head);
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (tcp.address() as net.AddressInfo).port,
    h2,
    connections: table,
    // New connections take the new pair; open ones keep theirs.
    setCertificate: tlsFront ? (pair) => tlsFront.setSecureContext(pair) : undefined,
    async close() {
      // close() waits for open connections, so end keep-alive ones first.
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      table.destroyAll();
      await closed;
      h1.close();
      h2.close();
    },
  };
}

/**
 * The HTTP/2 session reads a net.Socket's native handle directly, so bytes
 * already read (the preface we peeked at) cannot be put back with unshift.
 * A plain Duplex that replays them and then relays the socket can.
 */
function replay(socket: net.Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, enc, cb) {
      socket.write(chunk, enc, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(head);
  socket.on('data', (c) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  socket.on('close', () => d.destroy());
  return d;
}
