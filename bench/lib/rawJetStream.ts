// The ceiling: what one Node process gets from JetStream when it publishes
// one record per message, windowed (core publish with a reply inbox, many in
// flight, acks matched back) with the runtime's own WindowedPublisher.
import { performance } from 'node:perf_hooks';
import { connect, DiscardPolicy, RetentionPolicy, StorageType } from 'nats';
import { WindowedPublisher } from '../../stream/publisher.js';
import { Samples, type LatencySummary } from './stats.js';
import { CpuMeter } from './load.js';

export interface RawOptions {
  natsUrl: string;
  natsPid?: number;
  /** JetStream streams published to round-robin (as many as the stream has shards). */
  streams: number;
  msgBytes: number;
  window: number;
  warmupMs: number;
  durationMs: number;
}

export interface RawResult {
  msgs: number;
  msgsPerSec: number;
  mbPerSec: number;
  errors: number;
  ackLatencyMs: LatencySummary;
  cpu: Record<string, number>;
  firstError?: string;
}

export async function rawJetStreamCeiling(o: RawOptions): Promise<RawResult> {
  const nc = await connect({ servers: o.natsUrl.split(','), name: 'bench-raw' });
  const jsm = await nc.jetstreamManager();
  const names = Array.from({ length: o.streams }, (_, i) => `BENCH_RAW_${i}`);
  for (const [i, name] of names.entries()) {
    await jsm.streams.add({
      name,
      subjects: [`bench.raw.${i}`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    });
  }
  const publisher = new WindowedPublisher(nc, { maxInFlight: o.window, timeoutMs: 10_000 });
  const payload = new Uint8Array(o.msgBytes).fill(0x61);
  const subjects = names.map((_, i) => `bench.raw.${i}`);
  const latency = new Samples();
  let msgs = 0;
  let errors = 0;
  let inFlight = 0;
  let n = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const start = t0 + o.warmupMs;
  const end = start + o.durationMs;
  const meter = new CpuMeter({ nats: o.natsPid }, o.warmupMs, o.warmupMs + o.durationMs);

  await new Promise<void>((resolve) => {
    const onDone = (s: number, ok: boolean, err?: unknown) => {
      inFlight--;
      const e = performance.now();
      if (e >= start && e <= end) {
        if (ok) {
          msgs++;
          latency.add(e - s);
        } else errors++;
      }
      if (!ok) firstError ??= String((err as Error)?.message ?? err);
      pump();
    };
    const pump = () => {
      const now = performance.now();
      if (now >= end) {
        if (inFlight === 0) resolve();
        return;
      }
      while (inFlight < o.window) {
        inFlight++;
        const s = performance.now();
        publisher.publish(subjects[n++ % subjects.length]!, payload).then(
          () => onDone(s, true),
          (err) => onDone(s, false, err),
        );
      }
    };
    pump();
  });
  const cpu = await meter.done();
  publisher.close();
  for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
  await nc.drain();
  const seconds = o.durationMs / 1000;
  return {
    msgs,
    msgsPerSec: msgs / seconds,
    mbPerSec: (msgs * o.msgBytes) / seconds / 1e6,
    errors,
    ackLatencyMs: latency.summary(),
    cpu,
    firstError,
  };
}
