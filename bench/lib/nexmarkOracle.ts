// What the end-to-end analytics bench expects of each query, computed in plain
// JavaScript from the bids it generated (never by the engine under test), and
// the check of the output rows against it.
import type { Bid } from './nexmark.js';

/** A bid as the oracle needs it: event time in ms. */
export interface OracleBid { auction: number; bidder: number; price: number; t: number }

export const toOracleBid = (b: Bid): OracleBid => ({ auction: b.auction, bidder: b.bidder, price: b.price, t: Date.parse(b.dateTime) });

/** Output timestamps as the worker renders them ('2026-01-01 00:00:02.000', UTC) → ms. */
export const parseTs = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);

export interface Expectation {
  /** Output rows when every window has closed (undefined: depends on arrival times, e.g. ROWTIME windows). */
  rows?: number;
  /** Output is complete once this returns true for the rows seen so far. */
  complete(rows: Record<string, unknown>[] | number): boolean;
  /** Mismatches between the output and the oracle ('' when they agree). */
  check(rows: Record<string, unknown>[] | number): string;
}

const countOnly = (n: number, what: string): Expectation => ({
  rows: n,
  complete: (r) => (typeof r === 'number' ? r : r.length) >= n,
  check: (r) => {
    const got = typeof r === 'number' ? r : r.length;
    return got === n ? '' : `${got} rows, the oracle says ${n} (${what})`;
  },
});

/** Rows as a multiset of `key(row)`, compared with the oracle's. */
function sameRows(want: string[], got: string[], what: string): string {
  const m = new Map<string, number>();
  for (const k of want) m.set(k, (m.get(k) ?? 0) + 1);
  let extra = 0;
  for (const k of got) {
    const c = m.get(k);
    if (c) m.set(k, c - 1);
    else extra++;
  }
  let missing = 0;
  for (const c of m.values()) missing += c;
  return missing || extra ? `${what}: ${missing} oracle rows missing, ${extra} rows not in the oracle (of ${want.length})` : '';
}

/** q0/q1: every bid once. */
export const passThrough = (bids: OracleBid[]) => countOnly(bids.length, 'every bid');

/** q2: bids whose auction % 123 = 0. */
export const filtered = (bids: OracleBid[]) => countOnly(bids.filter((b) => b.auction % 123 === 0).length, 'bids with auction % 123 = 0');

/** HOP windows [s, s+size) with s a multiple of `slide` holding t. */
function hopStarts(t: number, sizeMs: number, slideMs: number): number[] {
  const out: number[] = [];
  for (let s = Math.floor(t / slideMs) * slideMs; s > t - sizeMs; s -= slideMs) out.push(s);
  return out;
}

function rowsExpectation(want: string[], key: (r: Record<string, unknown>) => string, what: string): Expectation {
  return {
    rows: want.length,
    complete: (r) => (typeof r === 'number' ? r : r.length) >= want.length,
    check: (r) => (typeof r === 'number' ? 'rows not kept' : sameRows(want, r.map(key), what)),
  };
}

/** q5: per HOP window (10 s / 2 s) the auctions with the most bids (ties all kept). */
export function hotItems(bids: OracleBid[], sizeMs = 10_000, slideMs = 2_000): Expectation {
  const counts = new Map<number, Map<number, number>>();
  for (const b of bids) {
    for (const s of hopStarts(b.t, sizeMs, slideMs)) {
      let w = counts.get(s);
      if (!w) counts.set(s, (w = new Map()));
      w.set(b.auction, (w.get(b.auction) ?? 0) + 1);
    }
  }
  const want: string[] = [];
  for (const [s, w] of counts) {
    // A loop, not Math.max(...): a 10 s window of a 10M-event input has more auctions than the stack takes arguments.
    let max = -Infinity;
    for (const n of w.values()) if (n > max) max = n;
    for (const [a, n] of w) if (n === max) want.push(`${s}|${a}|${n}`);
  }
  return rowsExpectation(want, (r) => `${parseTs(String(r.WS))}|${r.AUCTION}|${r.NUM}`, 'q5 (window, auction, count)');
}

/** q7: per 10 s TUMBLE window the bids at the window's highest price. */
export function highestBid(bids: OracleBid[], sizeMs = 10_000): Expectation {
  const max = new Map<number, number>();
  for (const b of bids) {
    const s = Math.floor(b.t / sizeMs) * sizeMs;
    max.set(s, Math.max(max.get(s) ?? -Infinity, b.price));
  }
  const want = bids.filter((b) => b.price === max.get(Math.floor(b.t / sizeMs) * sizeMs)).map((b) => `${Math.floor(b.t / sizeMs) * sizeMs}|${b.auction}|${b.price}|${b.bidder}`);
  return rowsExpectation(want, (r) => `${parseTs(String(r.WS))}|${r.AUCTION}|${r.PRICE}|${r.BIDDER}`, 'q7 (window, auction, price, bidder)');
}

/**
 * Tumbling COUNT/SUM by bidder over ROWTIME: which window a bid falls in
 * depends on when it arrived, so the oracle checks what does not: the counts
 * sum to the bids, and per bidder the counts and totals over all windows equal
 * the bidder's bids and their prices; one row per (window, bidder).
 */
export function tumblingByBidder(bids: OracleBid[]): Expectation {
  const per = new Map<number, { n: number; total: number }>();
  for (const b of bids) {
    const g = per.get(b.bidder) ?? { n: 0, total: 0 };
    g.n++;
    g.total += b.price;
    per.set(b.bidder, g);
  }
  const sumN = (rows: Record<string, unknown>[]) => rows.reduce((a, r) => a + Number(r.N), 0);
  return {
    complete: (r) => typeof r !== 'number' && sumN(r) >= bids.length,
    check: (r) => {
      if (typeof r === 'number') return 'rows not kept';
      const problems: string[] = [];
      const total = sumN(r);
      if (total !== bids.length) problems.push(`sum of N ${total}, ${bids.length} bids`);
      const got = new Map<number, { n: number; total: number }>();
      const seen = new Set<string>();
      let dupes = 0;
      for (const row of r) {
        const k = `${row.WS}|${row.BIDDER}`;
        if (seen.has(k)) dupes++;
        seen.add(k);
        const g = got.get(Number(row.BIDDER)) ?? { n: 0, total: 0 };
        g.n += Number(row.N);
        g.total += Number(row.TOTAL);
        got.set(Number(row.BIDDER), g);
      }
      if (dupes) problems.push(`${dupes} (window, bidder) pairs emitted more than once`);
      let wrong = 0;
      for (const [bidder, w] of per) {
        const g = got.get(bidder);
        if (!g || g.n !== w.n || Math.abs(g.total - w.total) > 1e-6 * Math.max(1, Math.abs(w.total))) wrong++;
      }
      for (const bidder of got.keys()) if (!per.has(bidder)) wrong++;
      if (wrong) problems.push(`${wrong} of ${per.size} bidders with a count or total unlike the oracle's`);
      return problems.join('; ');
    },
  };
}
