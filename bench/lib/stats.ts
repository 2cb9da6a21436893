// Latency samples and percentiles for benchmark scenarios.

/** A growable list of samples (milliseconds), kept as doubles without boxing. */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;

  add(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  get count(): number {
    return this.n;
  }

  /** Nearest-rank percentiles, p in [0, 100]. */
  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
    const s = this.buf.slice(0, this.n).sort();
    let sum = 0;
    for (const v of s) sum += v;
    const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
    return { count: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1]!, mean: sum / s.length };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export const round = (v: number, digits = 2): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
