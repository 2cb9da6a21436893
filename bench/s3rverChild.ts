// Child process entry: s3rver on 127.0.0.1:<port> with its data in <dir>, so
// the delivery benchmark's S3 server has an event loop (and CPU account) of
// its own instead of sharing the load generator's.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };

const server = new S3rver({ port: Number(process.argv[2]), address: '127.0.0.1', silent: true, directory: process.argv[3] });
await server.run();
const stop = () => void server.close().finally(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
