// 1 KB JSON log-like records for the delivery benchmark: varied fields and
// words from a small vocabulary, so gzip sees data about as compressible as
// application logs (not one repeated character). Each record carries its
// index `i` (for loss/duplicate counting) and its send time `sentMs`.
const WORDS = ('request handled user session cache miss hit timeout retry upstream downstream order payment invoice cart checkout '
  + 'login logout token refresh account profile search query result page item stock warehouse shipment delivered pending failed '
  + 'accepted rejected region zone node pod container image deploy rollout metric counter gauge latency error warning info debug').split(' ');
const EVENTS = ['page_view', 'click', 'purchase', 'signup', 'api_call', 'error', 'heartbeat'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15', 'curl/8.5.0', 'okhttp/4.12.0'];

/** A small deterministic PRNG (xorshift32): the same records every run. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

export const RECORD_BYTES = 1024;

/** Record `i` sent at `sentMs`: RECORD_BYTES of UTF-8 JSON (ASCII only). */
export function jsonRecord(i: number, sentMs: number): string {
  const r = prng(i * 2654435761);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  const head = {
    i, sentMs,
    event: pick(EVENTS),
    user: `user-${Math.floor(r() * 100_000)}`,
    session: Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0') + Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0'),
    path: `/api/v1/${pick(WORDS)}/${pick(WORDS)}/${Math.floor(r() * 10_000)}`,
    status: pick([200, 200, 200, 201, 204, 304, 400, 404, 500]),
    latencyMs: Math.round(r() * 250_000) / 100,
    agent: pick(AGENTS),
    msg: '',
  };
  const room = RECORD_BYTES - JSON.stringify(head).length;
  let msg = '';
  while (msg.length < room) msg += (msg ? ' ' : '') + pick(WORDS);
  head.msg = msg.slice(0, room);
  return JSON.stringify(head);
}
