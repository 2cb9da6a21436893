// Object names as Firehose writes them: <evaluated prefix><name>-<version>-
// <yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>. The uuid and the random
// string are derived from what the object holds (stream uid, shard, record
// range, partition), never drawn at random, so a flush retried after a crash
// overwrites the same object instead of writing a second copy.
import { createHash } from 'node:crypto';
import { partsIn } from '../../stream/delivery/timestamp.js';

const EXTENSIONS: Record<string, string> = {
  UNCOMPRESSED: '',
  GZIP: '.gz',
  ZIP: '.zip',
  Snappy: '.snappy',
  HADOOP_SNAPPY: '.hsnappy',
};

/** FileExtension when set (it replaces the default), else the compression's. */
export function extensionOf(compression: string, fileExtension?: string, parquet = false): string {
  if (fileExtension) return fileExtension;
  return (parquet ? '.parquet' : '') + (EXTENSIONS[compression] ?? '');
}

/** A version-4-shaped uuid from the hash of `identity` (same identity, same uuid). */
export function derivedUuid(identity: string): string {
  const h = createHash('sha256').update(identity).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** !{firehose:random-string}: 11 alphanumerics, derived like the uuid. */
export function derivedRandomString(identity: string): string {
  const h = createHash('sha256').update('random-string\0' + identity).digest();
  let s = '';
  for (let i = 0; i < 11; i++) s += ALPHANUM[h[i]! % ALPHANUM.length];
  return s;
}

const p2 = (n: number) => String(n).padStart(2, '0');

export function objectSuffix(o: { name: string; version: number; arrivalMs: number; timeZone?: string; uuid: string; extension: string }): string {
  const t = partsIn(o.arrivalMs, o.timeZone);
  return `${o.name}-${o.version}-${t.year}-${p2(t.month)}-${p2(t.day)}-${p2(t.hour)}-${p2(t.minute)}-${p2(t.second)}-${o.uuid}${o.extension}`;
}
