// One port, two protocols: HTTP/1.1 and HTTP/2 cleartext with prior knowledge
// (what the AWS SDK v3 speaks to an http:// endpoint). The first bytes of a
// connection tell them apart: an h2 connection opens with "PRI * HTTP/2.0".
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';

export type Request = http.IncomingMessage | http2.Http2ServerRequest;
export type Response = http.ServerResponse | http2.Http2ServerResponse;
export type Handler = (req: Request, res: Response) => void;

export interface Listener {
  port: number;
  close(): Promise<void>;
  /** Hooks for streams the compatibility API cannot express (event streams). */
  h2: http2.Http2Server;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

export async function listen(handler: Handler, port: number, host = '0.0.0.0'): Promise<Listener> {
  const h1 = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handler);
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, handler);
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      // Wait for enough bytes to decide, unless they already differ.
      if (n < H2_PREFACE.length && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return;
      socket.off('data', onData);
      socket.pause();
      const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
      if (isH2) {
        // http2 turns Nagle off only on a net.Socket it is handed; it cannot
        // reach through our Duplex. Left on, each small WINDOW_UPDATE waited
        // for the peer's delayed ACK (~40 ms), capping uploads near 1 MB/s.
        socket.setNoDelay(true);
        h2.emit('connection', replay(socket, head));
      } else {
        socket.unshift(head);
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  return {
    port: (tcp.address() as net.AddressInfo).port,
    h2,
    async close() {
      // close() waits for open connections, so end keep-alive ones first.
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      for (const s of sockets) s.destroy();
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
