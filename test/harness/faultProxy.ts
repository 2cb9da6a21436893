// A TCP proxy in front of a real endpoint that can be "broken": while broken it resets every
// connection (new ones at once, open ones too), so clients see the connection-level failures
// (ECONNRESET, socket hang up) a network blip gives, without mocking the client.
import net from 'node:net';

export interface FaultProxy {
  endpoint: string;
  broken: boolean;
  /** Connections reset while broken. */
  resets: number;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const open = new Set<net.Socket>();
  const proxy: FaultProxy = {
    endpoint: '',
    resets: 0,
    get broken() {
      return broken;
    },
    set broken(v: boolean) {
      broken = v;
      if (v) for (const s of open) s.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
  let broken = false;
  const server = net.createServer((client) => {
    if (broken) {
      proxy.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    open.add(client);
    const done = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    // Requests that arrive while broken are never forwarded: nothing half-written reaches the server.
    client.on('data', (d) => {
      if (broken) {
        proxy.resets++;
        client.resetAndDestroy();
      } else upstream.write(d);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}
