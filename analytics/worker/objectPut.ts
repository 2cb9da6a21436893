// Writes an object into a JetStream object store in the layout nats.js's
// ObjectStore reads (chunks on $O.<bucket>.C.<nuid>, the metadata rolled up on
// $O.<bucket>.M.<name>, SHA-256 digest), hashing with node:crypto. nats.js's
// own put hashes in JavaScript (js-sha256) and copies every chunk through a
// growing buffer: for the analytics worker, which checkpoints its state and
// its emit in flight many times a second, that was about a tenth of its CPU.
// Objects are read back with nats.js's ObjectStore (getBlob checks the digest).
import { createHash } from 'node:crypto';
import { headers as natsHeaders, JsHeaders, nuid } from 'nats';
import type { Store } from '../../stream/connect.js';

const DEFAULT_CHUNK = 128 * 1024;

/** Base64 with the URL alphabet and padding kept, as nats.js names subjects and digests. */
const b64urlPadded = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/**
 * Puts `data` (one buffer, or parts one after the other) as object `name` of
 * bucket `bucket` (which must exist), replacing the current version
 * atomically (the metadata message rolls up the old one), then purges the old
 * version's chunks. `fresh`: the caller knows no object of this name exists
 * (skips the lookup of the old version).
 */
export async function putObject(store: Store, bucket: string, name: string, data: Uint8Array | readonly Uint8Array[], opts: { fresh?: boolean } = {}): Promise<void> {
  if (!name) throw new Error('name cannot be empty');
  const stream = `OBJ_${bucket}`;
  const metaSubject = `$O.${bucket}.M.${b64urlPadded(Buffer.from(name, 'latin1'))}`;
  let oldNuid: string | undefined;
  if (!opts.fresh) {
    try {
      const m = await store.jsm.streams.getMessage(stream, { last_by_subj: metaSubject });
      const old = JSON.parse(Buffer.from(m.data).toString('utf8')) as { nuid?: string; deleted?: boolean };
      oldNuid = old.nuid;
    } catch (e) {
      if (!/no message found/i.test((e as Error).message)) throw e;
    }
  }
  const maxPayload = store.nc.info?.max_payload ?? 1024;
  const chunkSize = Math.min(DEFAULT_CHUNK, maxPayload);
  const id = nuid.next();
  const chunkSubject = `$O.${bucket}.C.${id}`;
  const sha = createHash('sha256');
  const acks: Promise<unknown>[] = [];
  let chunks = 0;
  let size = 0;
  for (const chunk of chunksOf(ArrayBuffer.isView(data) ? [data as Uint8Array] : (data as readonly Uint8Array[]), chunkSize)) {
    sha.update(chunk);
    chunks++;
    size += chunk.length;
    acks.push(store.js.publish(chunkSubject, chunk));
  }
  await Promise.all(acks);
  const info = {
    bucket, nuid: id, size, chunks, name, description: '', options: { max_chunk_size: chunkSize },
    mtime: new Date().toISOString(), digest: `SHA-256=${b64urlPadded(sha.digest())}`, deleted: false,
  };
  const h = natsHeaders();
  h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
  await store.js.publish(metaSubject, Buffer.from(JSON.stringify(info)), { headers: h });
  // The new version is current: the old chunks are garbage (a failure here leaves them, as nats.js does).
  if (oldNuid) await store.jsm.streams.purge(stream, { filter: `$O.${bucket}.C.${oldNuid}` }).catch(() => undefined);
}

/**
 * The parts' bytes in chunks of `size` (the last may be shorter), as one buffer would be cut: a chunk
 * inside a part is a view of it, only one that spans parts is copied.
 */
export function* chunksOf(parts: readonly Uint8Array[], size: number): Generator<Uint8Array> {
  let open: Buffer | undefined;
  let filled = 0;
  for (const p of parts) {
    let at = 0;
    while (at < p.length) {
      if (!open && p.length - at >= size) {
        yield p.subarray(at, at + size);
        at += size;
        continue;
      }
      open ??= Buffer.allocUnsafe(size);
      const n = Math.min(size - filled, p.length - at);
      open.set(p.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) {
        yield open;
        open = undefined;
        filled = 0;
      }
    }
  }
  if (open) yield open.subarray(0, filled);
}
