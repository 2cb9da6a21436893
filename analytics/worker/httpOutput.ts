// The HTTP output (a Shardline addition beside KDA's three kinds): one POST per
// emit. JSON rows go as one JSON array of row objects (application/json); CSV
// rows as the CSV lines themselves, each ending in '\n' (text/csv), since a
// CSV line is not JSON. Server errors and 429 are retried with backoff; other
// 4xx answers are the endpoint refusing the rows and fail the emit.

/** One POST waiting in the checkpoint; `contentType` is absent in checkpoints written before CSV bodies existed. */
export interface PendingHttp { url: string; body: string; contentType?: string }

/** The POST of one emit's formatted records. */
export function httpEmit(url: string, records: Buffer[], format: 'JSON' | 'CSV'): PendingHttp {
  if (format === 'CSV') return { url, body: Buffer.concat(records).toString('utf8'), contentType: 'text/csv; charset=utf-8' };
  return { url, body: `[${records.map((r) => r.toString('utf8')).join(',')}]`, contentType: 'application/json' };
}

export async function postWithRetry(h: PendingHttp): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(h.url, { method: 'POST', headers: { 'content-type': h.contentType ?? 'application/json' }, body: h.body });
      if (res.ok) return;
      if (res.status < 500 && res.status !== 429) throw new Error(`HTTP output ${h.url} answered ${res.status}`);
    } catch (e) {
      if (attempt >= 8) throw e;
    }
    await sleep(Math.min(5000, 100 * 2 ** attempt));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
