// `shardline dev`: a nats-server port already in use would show only in
// nats.log, as crash after crash; checking first gives the cause in one line.
import net from 'node:net';

export function assertPortFree(port: number, what: string, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `${what} port ${port} is already in use (choose another with ${flag})` : `${what} port ${port}: ${e.message}`)),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}
