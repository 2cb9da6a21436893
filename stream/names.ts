// How Kinesis names map onto NATS names. Kinesis stream names may hold '.',
// which is a token separator in NATS, so storage is keyed by a per-stream uid
// (also keeps a deleted-then-recreated stream from seeing its predecessor's data).

export const STREAMS_BUCKET = 'shardline_streams';
export const CONFIG_BUCKET = 'shardline_config';

const KEY_PREFIX = 'stream.';

/** Kinesis stream (and consumer) names: what may ever become part of a KV key. */
export const NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

export const isValidName = (name: string): boolean => NAME_RE.test(name);

/** KV key of a stream's record ('.' escaped: keys may not hold empty tokens). */
export function streamKey(name: string): string {
  return KEY_PREFIX + name.replace(/\./g, '=2E');
}

export function nameFromStreamKey(key: string): string | undefined {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  return key.slice(KEY_PREFIX.length).replace(/=2E/g, '.');
}

export function shardIdOf(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`;
}

/** shardId-000000000007 → 7; undefined when malformed. */
export function shardIndexOf(shardId: string): number | undefined {
  const m = /^shardId-(\d{1,12})$/.exec(shardId);
  return m ? Number(m[1]) : undefined;
}

export function jsStreamName(uid: string, shardIndex: number): string {
  return `KDS_${uid}_${shardIndex}`;
}

export function jsSubject(uid: string, shardIndex: number): string {
  return `kds.${uid}.${shardIndex}`;
}
