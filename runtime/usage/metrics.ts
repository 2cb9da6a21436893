// GET /metrics: the per-shard counters of this runtime process in Prometheus
// text format. One registry per process (not prom-client's global one, so two
// runtimes in one test process do not share counters). Values are read from
// ShardUsage at scrape time; the hot path never touches prom-client.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ShardCounters } from '../../stream/shardMetrics.js';
import type { ShardUsage } from './shardUsage.js';

/** Metric name → the counter it exports, and its help text. */
export const SHARD_COUNTER_METRICS: [string, keyof ShardCounters, string][] = [
  ['shardline_shard_incoming_bytes_total', 'incomingBytes', 'Bytes (data + partition key) successfully put to the shard (Kinesis IncomingBytes).'],
  ['shardline_shard_incoming_records_total', 'incomingRecords', 'Records successfully put to the shard (Kinesis IncomingRecords).'],
  [
    'shardline_shard_write_provisioned_throughput_exceeded_total',
    'writeProvisionedThroughputExceeded',
    'Records rejected for exceeding the shard write limits (Kinesis WriteProvisionedThroughputExceeded).',
  ],
  [
    'shardline_shard_read_provisioned_throughput_exceeded_total',
    'readProvisionedThroughputExceeded',
    'GetRecords calls rejected for exceeding the shard read limits (Kinesis ReadProvisionedThroughputExceeded).',
  ],
  ['shardline_shard_outgoing_bytes_total', 'outgoingBytes', 'Bytes (data + partition key) returned by GetRecords (Kinesis OutgoingBytes).'],
  ['shardline_shard_outgoing_records_total', 'outgoingRecords', 'Records returned by GetRecords (Kinesis OutgoingRecords).'],
  ['shardline_shard_get_records_total', 'getRecords', 'Successful GetRecords calls (Kinesis GetRecords.Success).'],
];

export const ITERATOR_AGE_METRIC = 'shardline_shard_iterator_age_milliseconds';

export function createMetricsRegistry(usage: ShardUsage): Registry {
  const registry = new Registry();
  const labelNames = ['stream', 'shard'] as const;
  for (const [name, field, help] of SHARD_COUNTER_METRICS) {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of usage.served()) this.inc({ stream: s.stream, shard: s.shardId }, s.counters[field]);
      },
    });
  }
  new Gauge({
    name: ITERATOR_AGE_METRIC,
    help: 'Age of the last record returned by the most recent GetRecords call on the shard, 0 when it returned none (Kinesis GetRecords.IteratorAgeMilliseconds).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of usage.served()) this.set({ stream: s.stream, shard: s.shardId }, s.iteratorAgeMs);
    },
  });
  return registry;
}
