// Shard ids as clients may write them. Kinesis resolves `shardId-1`, `<any
// prefix>-1` and a bare `1` to `shardId-000000000001` (kinesalite recorded
// this from the live service; the current API reference documents only the
// canonical form and says nothing against it), and names the canonical id in
// its answers.
import { shardIdOf } from '../../stream/names.js';

const MAX_SHARD_INDEX = 2147483647;

/** The canonical shard id for `input`, or undefined when it names no shard index. */
export function resolveShardId(input: string): string | undefined {
  const digits = input.split('-')[1] || input;
  if (!/^\d{1,12}$/.test(digits)) return undefined;
  const index = Number(digits);
  return index <= MAX_SHARD_INDEX ? shardIdOf(index) : undefined;
}
