// Pure unit test of FlushCost: the expected duration of a flush, learnt from
// the shard's own flushes (a base cost from small ones, a cost per byte from
// large ones), which an interval flush starts ahead of its deadline.
import { describe, expect, it } from '@jest/globals';
import { FlushCost } from '../../runtime/delivery/flushCost.js';

const MiB = 1024 * 1024;

describe('FlushCost', () => {
  it('predicts nothing before any flush', () => {
    expect(new FlushCost().predictMs(64 * MiB)).toBe(0);
  });

  it('learns a base cost from small flushes and a cost per byte from large ones', () => {
    const c = new FlushCost();
    for (let i = 0; i < 20; i++) c.observe(10_000, 20); // small: 20 ms whatever the size
    for (let i = 0; i < 20; i++) c.observe(10 * MiB, 20 + 500); // 10 MiB: 50 ms per MiB on top
    expect(c.predictMs(1000)).toBeCloseTo(20, 0);
    expect(c.predictMs(64 * MiB)).toBeCloseTo(20 + 64 * 50, -1);
  });

  it('follows a change in the cost (a moving average, not the first sample)', () => {
    const c = new FlushCost();
    c.observe(10_000, 10);
    for (let i = 0; i < 30; i++) c.observe(10_000, 100);
    expect(c.predictMs(10_000)).toBeGreaterThan(95);
  });
});
