// Firehose's PartitionCount / PartitionCountExceeded: the processing chain
// reports a flush's active partitions (dynamic partitioning by jq, the real
// jq-web), and the worker's metrics expose them as gauges.
import { processRecords, MAX_ACTIVE_PARTITIONS, type InRecord, type ProcessContext } from '../../runtime/delivery/processing.js';
import { deliveryMetrics } from '../../runtime/delivery/metrics.js';

const S3 = {
  DynamicPartitioningConfiguration: { Enabled: true },
  ProcessingConfiguration: {
    Enabled: true,
    Processors: [{ Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{customer: .customer}' }, { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' }] }],
  },
} as Parameters<typeof processRecords>[0];

const records = (customers: string[]): InRecord[] => customers.map((c, i) => ({ recordId: String(i), data: Buffer.from(JSON.stringify({ customer: c, n: i })), arrivalMs: 1_700_000_000_000 + i }));

function ctx(seen: [number, boolean][]): ProcessContext {
  return { deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/pc', region: 'us-east-1', functions: {}, functionTimeoutMs: 1000, onPartitions: (n, x) => void seen.push([n, x]) };
}

test('a flush reports its distinct partition keys; past the limit it reports the limit and exceeded', async () => {
  const seen: [number, boolean][] = [];
  const small = await processRecords(S3, records(['acme', 'zeta', 'acme', 'beta']), ctx(seen));
  expect(small.partitions).toHaveLength(3);
  const names = Array.from({ length: MAX_ACTIVE_PARTITIONS + 7 }, (_, i) => `c${i}`);
  const big = await processRecords(S3, records(names), ctx(seen));
  expect(big.partitions).toHaveLength(MAX_ACTIVE_PARTITIONS);
  expect(big.errors.filter((e) => e.type === 'activePartitionExceeded')).toHaveLength(7);
  expect(seen).toEqual([[3, false], [MAX_ACTIVE_PARTITIONS, true]]);
}, 60_000);

test('the worker metrics show the last flush as PartitionCount and PartitionCountExceeded', async () => {
  const m = deliveryMetrics('pc');
  m.partitions(42, true);
  const text = await m.registry.metrics();
  expect(text).toMatch(/^shardline_firehose_partition_count\{delivery_stream="pc"\} 42$/m);
  expect(text).toMatch(/^shardline_firehose_partition_count_exceeded\{delivery_stream="pc"\} 1$/m);
});
