// How long a flush of a shard's buffer takes (processing, compression, upload,
// checkpoint), learnt from that shard's own flushes: a base cost (small
// flushes) plus a cost per byte (large ones), each a moving average. An
// interval flush starts this much ahead of its deadline so that the object is
// in S3 when the interval is up, not a big buffer's build-and-upload later.
const SMALL = 256 * 1024;
const WEIGHT = 0.3;

export class FlushCost {
  private baseMs?: number;
  private perByteMs?: number;

  observe(bytes: number, ms: number): void {
    if (bytes < SMALL) this.baseMs = avg(this.baseMs, ms);
    else this.perByteMs = avg(this.perByteMs, Math.max(0, ms - (this.baseMs ?? 0)) / bytes);
  }

  /** Expected duration of a flush of `bytes` (0 until a flush has been seen). */
  predictMs(bytes: number): number {
    return (this.baseMs ?? 0) + (this.perByteMs ?? 0) * bytes;
  }
}

const avg = (prev: number | undefined, x: number) => (prev === undefined ? x : prev + WEIGHT * (x - prev));
