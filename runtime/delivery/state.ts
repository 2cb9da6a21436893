// The flush intent of one shard in the delivery state bucket: the exact range
// and destination of a flush that was started, written before anything is
// uploaded. Checkpoints and leases are the consumer library's (its lease
// store); the intent is what makes a flush re-formable after a crash.
// Key: <delivery uid>.intent.<shardId token>.
import type { KV } from 'nats';
import type { HttpDestinationDef, S3DestinationDef } from '../../stream/deliveryStreams.js';

/** A user record's place in its shard: sequence number, and sub-sequence inside a KPL aggregate. */
export interface RecordPos { seq: string; sub?: number }

export interface FlushIntent {
  first: RecordPos;
  last: RecordPos;
  records: number;
  versionId: number;
  /** The destination as it was when the batch was formed: a replay writes the same objects. */
  s3: S3DestinationDef;
  http?: HttpDestinationDef;
}

export const samePos = (a: RecordPos, b: RecordPos) => a.seq === b.seq && (a.sub ?? -1) === (b.sub ?? -1);

/** Orders positions: by sequence number (decimal, any length), then sub-sequence. */
export function comparePos(a: RecordPos, b: RecordPos): number {
  const x = BigInt(a.seq);
  const y = BigInt(b.seq);
  if (x !== y) return x < y ? -1 : 1;
  return (a.sub ?? -1) - (b.sub ?? -1);
}

const token = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, (c) => '=' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());

export class IntentStore {
  constructor(private readonly kv: KV, private readonly uid: string, private readonly shardId: string) {}

  private get key() {
    return `${this.uid}.intent.${token(this.shardId)}`;
  }

  async get(): Promise<FlushIntent | undefined> {
    const e = await this.kv.get(this.key);
    if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
    return e.json<FlushIntent>();
  }

  async set(i: FlushIntent): Promise<void> {
    await this.kv.put(this.key, JSON.stringify(i));
  }

  async clear(): Promise<void> {
    await this.kv.delete(this.key);
  }
}
