// Child process entry: s3rver on 127.0.0.1:<port> with its data in <dir>, so
// the delivery benchmark's S3 server has an event loop (and CPU account) of
// its own instead of sharing the load generator's.
// With a third argument <events file>: every object created (s3rver's own
// `event`, emitted once the object is stored, before the PUT is answered) is
// appended there as `<epoch ms> <bucket> <key>`: when each object arrived in
// S3, measured by the S3 server and not by the worker that wrote it, without
// listing the bucket (s3rver's listings slow down with many objects).
import fs from 'node:fs';
import { localS3 } from '../common/localS3.js';

const server = localS3({ port: Number(process.argv[2]), directory: process.argv[3] });
const eventsFile = process.argv[4];
if (eventsFile) {
  const out = fs.createWriteStream(eventsFile, { flags: 'a' });
  server.on('event', (ev) => {
    const at = Date.now();
    for (const r of ev.Records) if (r.eventName.startsWith('ObjectCreated:')) out.write(`${at} ${r.s3.bucket.name} ${r.s3.object.key}\n`);
  });
}
await server.run();
const stop = () => void server.close().finally(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
