// A delivery worker's progress in the delivery state bucket, per shard of the
// source: the checkpoint (next position to deliver), the flush intent (the
// exact range and destination of a flush in progress) and the shard lease.
// Keys: <delivery uid>.ckpt.<shard index>, .intent.<i>, .lease.<i>.
import type { KV } from 'nats';
import type { S3DestinationDef } from '../../stream/deliveryStreams.js';

export interface Position { jsSeq: number; index: number }

export interface FlushIntent {
  from: Position;
  /** Exclusive: the position after the last record of the flush (the next checkpoint). */
  to: Position;
  records: number;
  versionId: number;
  /** The destination as it was when the batch was formed: a replay writes the same objects. */
  s3: S3DestinationDef;
}

export interface Lease { owner: string; expiresMs: number }

export const comparePos = (a: Position, b: Position) => a.jsSeq - b.jsSeq || a.index - b.index;

export class ShardState {
  constructor(private readonly kv: KV, private readonly uid: string, private readonly shard: number) {}

  private key(kind: 'ckpt' | 'intent' | 'lease') {
    return `${this.uid}.${kind}.${this.shard}`;
  }

  private async read<T>(kind: 'ckpt' | 'intent' | 'lease'): Promise<{ value: T; revision: number } | undefined> {
    const e = await this.kv.get(this.key(kind));
    if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
    return { value: e.json<T>(), revision: e.revision };
  }

  async checkpoint(): Promise<Position | undefined> {
    return (await this.read<Position>('ckpt'))?.value;
  }

  async setCheckpoint(p: Position): Promise<void> {
    await this.kv.put(this.key('ckpt'), JSON.stringify(p));
  }

  async intent(): Promise<FlushIntent | undefined> {
    return (await this.read<FlushIntent>('intent'))?.value;
  }

  async setIntent(i: FlushIntent): Promise<void> {
    await this.kv.put(this.key('intent'), JSON.stringify(i));
  }

  async clearIntent(): Promise<void> {
    await this.kv.delete(this.key('intent'));
  }

  /**
   * Takes or renews the shard's lease for `owner`; false when another live
   * owner holds it. Compare-and-set on the entry's revision, so two workers
   * racing for a free shard cannot both win.
   */
  async acquire(owner: string, ttlMs: number): Promise<boolean> {
    const cur = await this.read<Lease>('lease');
    const now = Date.now();
    if (cur && cur.value.owner !== owner && cur.value.expiresMs > now) return false;
    const next = JSON.stringify({ owner, expiresMs: now + ttlMs } satisfies Lease);
    try {
      if (cur) await this.kv.update(this.key('lease'), next, cur.revision);
      else await this.kv.create(this.key('lease'), next);
      return true;
    } catch {
      return false;
    }
  }

  async release(owner: string): Promise<void> {
    const cur = await this.read<Lease>('lease');
    if (cur?.value.owner === owner) await this.kv.delete(this.key('lease'), { previousSeq: cur.revision }).catch(() => undefined);
  }
}
