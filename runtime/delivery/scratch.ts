// Scratch buffers for flush bodies that live only until they are compressed.
// A drain builds a ~10 MB body per flush; a fresh allocation each time is
// fresh pages to fault in and external memory that V8 answers with
// garbage collections (nearly all of a drain's GCs were "external memory
// pressure"). A few buffers are kept and reused instead. A buffer is lent to
// one flush at a time and returned only after the compressor has finished
// with it, so concurrent flushes never share one.

const MiB = 1024 * 1024;
/** Bodies larger than this are allocated as before (not kept). */
const MAX_KEPT_BYTES = 32 * MiB;
/** Buffers kept between flushes: one per flush in progress, typically one per leased shard. */
const KEEP = 4;

/** An idle worker gives its kept buffers back after this long without a flush (a pod's memory limit counts them). */
const IDLE_RELEASE_MS = 30_000;

const free: Buffer[] = [];
let lastUse = 0;
let idleTimer: NodeJS.Timeout | undefined;

function releaseWhenIdle(): void {
  lastUse = Date.now();
  idleTimer ??= setInterval(() => {
    if (Date.now() - lastUse < IDLE_RELEASE_MS) return;
    free.length = 0;
    clearInterval(idleTimer);
    idleTimer = undefined;
  }, IDLE_RELEASE_MS).unref();
}

/** Powers of two from 1 MiB: a buffer fits the next flushes of about the same size. */
const capacityFor = (size: number) => Math.max(MiB, 2 ** Math.ceil(Math.log2(size)));

/** Runs `use` with a buffer of exactly `size` bytes (uninitialised) that it must not keep past its promise. */
export async function withScratch<T>(size: number, use: (b: Buffer) => Promise<T>): Promise<T> {
  if (size > MAX_KEPT_BYTES) return use(Buffer.allocUnsafe(size));
  const i = free.findIndex((b) => b.length >= size);
  const buf = i >= 0 ? free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(capacityFor(size));
  try {
    return await use(buf.subarray(0, size));
  } finally {
    if (free.length < KEEP) free.push(buf);
    releaseWhenIdle();
  }
}
