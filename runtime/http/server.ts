// One port, two protocols: HTTP/1.1 and HTTP/2 cleartext with prior knowledge
// (what the AWS SDK v3 speaks to an http:// endpoint). The first bytes of a
// connection tell them apart: an h2 connection opens with "PRI * HTTP/2.0".
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

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
      socket.unshift(head);
      const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
      (isH2 ? h2 : h1).emit('connection', socket);
      socket.resume();
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
      await new Promise<void>((r) => tcp.close(() => r()));
      for (const s of sockets) s.destroy();
      h1.close();
      h2.close();
    },
  };
}
