// Child process entry: kinesalite in memory on 127.0.0.1:<port>, streams
// created and deleted without delay. kinesalite is CommonJS.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (opts: Record<string, unknown>) => {
  listen(port: number, host: string, cb: () => void): void;
  close(cb: (err?: Error) => void): void;
};

const port = Number(process.argv[2]);
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
server.listen(port, '127.0.0.1', () => undefined);
const stop = () => server.close(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
