import { hash } from 'node:crypto';

export const MAX_HASH_KEY = (1n << 128n) - 1n;

/**
 * The 128-bit hash key Kinesis routes a partition key by: MD5 of its UTF-8 bytes.
 * One-shot crypto.hash (no Hash object) and one BigInt from hex: this runs for
 * every record written.
 */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt('0x' + hashKeyHexOf(partitionKey));
}

/** The same key as 32 lowercase hex digits (for routing without a BigInt: routeOfHex). */
export function hashKeyHexOf(partitionKey: string): string {
  return hash('md5', partitionKey, 'hex');
}

export interface HashRange {
  start: bigint;
  end: bigint;
}

/** Splits the whole key space into `count` contiguous ranges as AWS does for new streams. */
export function evenRanges(count: number): HashRange[] {
  const total = MAX_HASH_KEY + 1n;
  const size = total / BigInt(count);
  const ranges: HashRange[] = [];
  for (let i = 0; i < count; i++) {
    const start = size * BigInt(i);
    const end = i === count - 1 ? MAX_HASH_KEY : start + size - 1n;
    ranges.push({ start, end });
  }
  return ranges;
}
