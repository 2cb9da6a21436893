// A thin Kinesis JSON 1.1 client over undici for load generation: fixed
// headers, bodies serialised by the caller (ahead of time where possible),
// responses read as text. No SigV4: the servers under test do not check it,
// but kinesalite wants an Authorization header to be present.
import { Pool } from 'undici';

const AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDBENCH/20250101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000';

export interface CallResult {
  status: number;
  text: string;
}

export class KinesisHttp {
  readonly pool: Pool;
  private readonly headers = new Map<string, Record<string, string>>();

  constructor(
    readonly endpoint: string,
    opts: { connections: number; pipelining?: number } = { connections: 1 },
  ) {
    this.pool = new Pool(endpoint, {
      connections: opts.connections,
      pipelining: opts.pipelining ?? 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  private headersFor(op: string): Record<string, string> {
    let h = this.headers.get(op);
    if (!h) {
      h = {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `Kinesis_20131202.${op}`,
        'x-amz-date': '20250101T000000Z',
        authorization: AUTH,
      };
      this.headers.set(op, h);
    }
    return h;
  }

  async call(op: string, body: string | Buffer): Promise<CallResult> {
    const res = await this.pool.request({ path: '/', method: 'POST', headers: this.headersFor(op), body });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** Calls and parses; throws with the answer on a non-200. */
  async json<T = any>(op: string, params: unknown): Promise<T> {
    const r = await this.call(op, JSON.stringify(params));
    if (r.status !== 200) throw new Error(`${op} → ${r.status}: ${r.text.slice(0, 500)}`);
    // kinesalite answers CreateStream and DeleteStream with an empty body.
    return (r.text ? JSON.parse(r.text) : {}) as T;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Creates a stream and waits for ACTIVE; returns its shard ids. ON_DEMAND
 * (always 4 shards at creation) is not throttled per shard, so the server's
 * own speed is measured rather than AWS's per-shard limits.
 */
export async function createStreamAndWait(k: KinesisHttp, name: string, shards: number, mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED'): Promise<string[]> {
  await k.json('CreateStream', mode === 'ON_DEMAND' ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } } : { StreamName: name, ShardCount: shards });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = await k.json('DescribeStream', { StreamName: name });
    if (d.StreamDescription.StreamStatus === 'ACTIVE') {
      return (d.StreamDescription.Shards as { ShardId: string }[]).map((s) => s.ShardId);
    }
    if (Date.now() > deadline) throw new Error(`stream ${name} not ACTIVE after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function deleteStream(k: KinesisHttp, name: string): Promise<void> {
  await k.json('DeleteStream', { StreamName: name }).catch(() => undefined);
}
