// The processing chain end to end (worker process, nats-server, s3rver): an
// HTTP transform function speaking the Lambda contract (Ok / Dropped /
// ProcessingFailed, timeouts and retries), error-prefix JSON lines, JSON
// de-aggregation, dynamic partitioning by jq and by the transform's metadata,
// and the 500-active-partition limit.
import {
  type FirehoseClient, CreateDeliveryStreamCommand, PutRecordBatchCommand, type Processor,
} from '@aws-sdk/client-firehose';
import type { S3Server } from '../harness/s3.js';
import { jsonServer, ROLE, startDeliveryStack, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';

const BUCKET = 'processed';
const FN_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:upper';

let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let fn: { url: string; close(): Promise<void> };
let fnUrl: string;
const invocations: any[] = [];
let mode: 'normal' | 'hang' = 'normal';

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh } = stack);
  // The transform: upper-cases; "drop" → Dropped, "fail" → ProcessingFailed; partition key k = first letter.
  fn = await jsonServer((event) => {
    invocations.push(event);
    if (mode === 'hang') return undefined; // never answers: the worker's timeout ends the call
    const records = event.records.map((r: any) => {
      const text = Buffer.from(r.data, 'base64').toString();
      if (text.includes('drop')) return { recordId: r.recordId, result: 'Dropped', data: r.data };
      if (text.includes('fail')) return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
      return { recordId: r.recordId, result: 'Ok', data: Buffer.from(text.toUpperCase()).toString('base64'), metadata: { partitionKeys: { k: text[0] } } };
    });
    return [200, { records }];
  });
  fnUrl = `${fn.url}/invoke`;
});
afterAll(async () => {
  await stack?.stop();
  await fn?.close();
});

const worker = (name: string, extra: Record<string, unknown> = {}): DeliveryProcess => stack.worker(name, { config: { functions: { [FN_ARN]: fnUrl }, ...extra } });

async function create(name: string, dest: Record<string, unknown>) {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name,
    ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, ...dest },
  }));
  return stack.waitActive(name);
}

async function put(name: string, records: string[]) {
  for (let i = 0; i < records.length; i += 500) {
    const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records.slice(i, i + 500).map((r) => ({ Data: Buffer.from(r) })) }));
    expect(out.FailedPutCount).toBe(0);
  }
}

/** Lines of every object under `prefix`, by key, once `done` holds. */
async function linesUnder(prefix: string, done: (all: string[]) => boolean, ms = 30_000): Promise<Map<string, string[]>> {
  const until = Date.now() + ms;
  for (;;) {
    const out = new Map<string, string[]>();
    for (const k of await s3.list(BUCKET, prefix)) out.set(k, (await s3.get(BUCKET, k)).toString().split('\n').filter(Boolean));
    if (done([...out.values()].flat())) return out;
    if (Date.now() > until) throw new Error(`timed out under ${prefix}: ${[...out.keys()].join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const lambda = (params: Record<string, string> = {}): Processor => ({
  Type: 'Lambda',
  Parameters: Object.entries({ LambdaArn: FN_ARN, ...params }).map(([ParameterName, ParameterValue]) => ({ ParameterName: ParameterName as any, ParameterValue })),
});
const newline: Processor = { Type: 'AppendDelimiterToRecord' };

describe('processing chain', () => {
  test('Lambda transform: Ok records transformed, Dropped gone, ProcessingFailed in the error prefix as Firehose JSON lines', async () => {
    await create('xform', {
      Prefix: 'xform/', ErrorOutputPrefix: 'xform-err/',
      ProcessingConfiguration: { Enabled: true, Processors: [lambda(), newline] },
    });
    const before = invocations.length;
    await put('xform', ['alpha', 'drop me', 'fail me', 'beta']);
    const w = worker('xform');
    const ok = await linesUnder('xform/', (l) => l.length >= 2);
    expect([...ok.values()].flat().sort()).toEqual(['ALPHA', 'BETA']);
    const err = await linesUnder('xform-err/', (l) => l.length >= 1);
    const [key] = [...err.keys()];
    expect(key).toMatch(/^xform-err\/processing-failed\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/xform-1-[\d-]{19}-[0-9a-f-]{36}$/);
    const line = JSON.parse([...err.values()][0]![0]!);
    expect(line).toMatchObject({ attemptsMade: 1, errorCode: 'Lambda.ProcessingFailedStatus', lambdaArn: FN_ARN, rawData: Buffer.from('fail me').toString('base64') });
    expect(typeof line.arrivalTimestamp).toBe('number');
    expect(line.attemptEndingTimestamp).toBeGreaterThanOrEqual(line.arrivalTimestamp);
    // The invocation event, as Firehose sends it.
    const ev = invocations[before];
    expect(ev.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ev.deliveryStreamArn).toBe('arn:aws:firehose:us-east-1:000000000000:deliverystream/xform');
    expect(ev.region).toBe('us-east-1');
    expect(ev.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).toEqual(['alpha', 'drop me', 'fail me', 'beta']);
    for (const r of ev.records) {
      expect(typeof r.recordId).toBe('string');
      expect(typeof r.approximateArrivalTimestamp).toBe('number');
    }
    await w.kill('SIGTERM');
  }, 60_000);

  test('a transform that times out is retried NumberOfRetries times, then its records go to the error prefix', async () => {
    await create('hang', {
      Prefix: 'hang/', ErrorOutputPrefix: 'hang-err/',
      ProcessingConfiguration: { Enabled: true, Processors: [lambda({ NumberOfRetries: '1' })] },
    });
    mode = 'hang';
    const before = invocations.length;
    try {
      await put('hang', ['slow-1', 'slow-2']);
      const w = worker('hang', { functionTimeoutMs: 1000 });
      const err = await linesUnder('hang-err/', (l) => l.length >= 2);
      const lines = [...err.values()].flat().map((l) => JSON.parse(l));
      expect(lines.map((l) => Buffer.from(l.rawData, 'base64').toString()).sort()).toEqual(['slow-1', 'slow-2']);
      for (const l of lines) expect(l).toMatchObject({ attemptsMade: 2, errorCode: 'Lambda.FunctionTimedOut' });
      expect(invocations.length - before).toBe(2);
      expect(await s3.list(BUCKET, 'hang/')).toEqual([]);
      await w.kill('SIGTERM');
    } finally {
      mode = 'normal';
    }
  }, 60_000);

  test('RecordDeAggregation (JSON) then dynamic partitioning by jq; non-JSON records to the error prefix', async () => {
    await create('dp', {
      Prefix: 'dp/customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/', ErrorOutputPrefix: 'dp-err/!{firehose:error-output-type}/',
      BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 0 },
      DynamicPartitioningConfiguration: { Enabled: true },
      ProcessingConfiguration: {
        Enabled: true,
        Processors: [
          { Type: 'RecordDeAggregation', Parameters: [{ ParameterName: 'SubRecordType', ParameterValue: 'JSON' }] },
          { Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{customer: .customer}' }, { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' }] },
          newline,
        ],
      },
    });
    await put('dp', ['{"customer":"acme","n":1}{"customer":"zeta","n":2}', '{"customer":"acme","n":3}\n{"customer":"acme","n":4}', 'not json']);
    const w = worker('dp');
    const year = new Date().getUTCFullYear();
    const ok = await linesUnder('dp/', (l) => l.length >= 4);
    const byKey = [...ok.entries()].map(([k, lines]) => [k.split('/').slice(0, 3).join('/'), lines.map((l) => JSON.parse(l).n).sort()]);
    expect(byKey.sort()).toEqual([[`dp/customer=acme/${year}`, [1, 3, 4]], [`dp/customer=zeta/${year}`, [2]]]);
    const err = await linesUnder('dp-err/', (l) => l.length >= 1);
    expect([...err.keys()][0]).toMatch(/^dp-err\/processing-failed\/dp-1-/);
    expect(JSON.parse([...err.values()][0]![0]!)).toMatchObject({ errorCode: 'RecordDeAggregation.InvalidJson', rawData: Buffer.from('not json').toString('base64') });
    await w.kill('SIGTERM');
  }, 60_000);

  test('partition keys from the transform; more than 500 partitions in a flush overflow to activePartitionExceeded', async () => {
    await create('dpl', {
      Prefix: 'dpl/!{partitionKeyFromLambda:k}/', ErrorOutputPrefix: 'dpl-err/!{firehose:error-output-type}/',
      BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 0 },
      DynamicPartitioningConfiguration: { Enabled: true },
      ProcessingConfiguration: { Enabled: true, Processors: [lambda(), newline] },
    });
    await put('dpl', ['apple', 'avocado', 'banana']);
    const w = worker('dpl');
    const ok = await linesUnder('dpl/', (l) => l.length >= 3);
    const parts = [...ok.entries()].map(([k, lines]) => [k.split('/')[1], lines.sort()]).sort();
    expect(parts).toEqual([['a', ['APPLE', 'AVOCADO']], ['b', ['BANANA']]]);
    await w.kill('SIGTERM');

    // 510 distinct first characters in one flush: the first 500 partitions are written, 10 records overflow.
    await create('many', {
      Prefix: 'many/!{partitionKeyFromLambda:k}/', ErrorOutputPrefix: 'many-err/!{firehose:error-output-type}/',
      BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 0 },
      DynamicPartitioningConfiguration: { Enabled: true },
      ProcessingConfiguration: { Enabled: true, Processors: [lambda(), newline] },
    });
    const records = Array.from({ length: 510 }, (_, i) => String.fromCodePoint(0x4e00 + i) + 'x');
    await put('many', records);
    const w2 = worker('many');
    const err = await linesUnder('many-err/', (l) => l.length >= 10, 60_000);
    const errLines = [...err.values()].flat().map((l) => JSON.parse(l));
    expect([...err.keys()].every((k) => k.startsWith('many-err/activePartitionExceeded/'))).toBe(true);
    expect(errLines).toHaveLength(10);
    expect(errLines[0]).toMatchObject({ errorCode: 'DynamicPartitioning.ActivePartitionsLimitExceeded', errorMessage: 'The number of active partitions has exceeded the configured limit' });
    const written = await linesUnder('many/', (l) => l.length >= 500, 60_000);
    expect(written.size).toBe(500);
    const overflowed = errLines.map((l) => Buffer.from(l.rawData, 'base64').toString().toUpperCase());
    expect([...[...written.values()].flat(), ...overflowed].sort()).toEqual(records.map((r) => r.toUpperCase()).sort());
    await w2.kill('SIGTERM');
  }, 120_000);

  test('validation: processors need their parameters; query keys need MetadataExtraction', async () => {
    const bad = async (dest: Record<string, unknown>) => {
      try {
        await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'bad-proc', ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, ...dest } }));
      } catch (e) {
        return { name: (e as Error).name, message: (e as Error).message };
      }
      throw new Error('accepted');
    };
    expect(await bad({ ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'NumberOfRetries', ParameterValue: '2' }] }] } }))
      .toEqual({ name: 'InvalidArgumentException', message: 'LambdaArn is a required parameter of a Lambda processor.' });
    expect((await bad({ ProcessingConfiguration: { Enabled: true, Processors: [lambda({ BufferSizeInMBs: '5' })] } })).message).toContain('between 0.2 and 3');
    expect((await bad({
      Prefix: 'x/!{partitionKeyFromQuery:c}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/', BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 60 },
      DynamicPartitioningConfiguration: { Enabled: true },
    })).message).toContain('needs a MetadataExtraction processor');
    expect((await bad({
      Prefix: 'x/!{partitionKeyFromLambda:c}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 60 },
      DynamicPartitioningConfiguration: { Enabled: true }, ProcessingConfiguration: { Enabled: true, Processors: [lambda()] },
    })).message).toContain('at least 64');
  });
});
