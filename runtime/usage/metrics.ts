// GET /metrics: the per-shard counters of this runtime process in Prometheus
// text format, plus request metrics and Node's default process metrics. One
// registry per process (not prom-client's global one, so two runtimes in one
// test process do not share counters). Shard values are read from ShardUsage
// at scrape time; the hot path never touches prom-client for them. Under
// `--workers N` the workers' registries are summed (runtime/usage/clusterMetrics.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestRecord } from '../api/requestRecord.js';
import { secondsSince } from '../api/requestRecord.js';
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

export const ITERATOR_AGE_METRIC = 'shardline_shard_iterator_age_seconds';
/** Firehose ThrottledRecords, named as the delivery workers name Firehose's metrics (runtime/delivery/metrics.ts). */
export const THROTTLED_RECORDS_METRIC = 'shardline_firehose_throttled_records_total';

export interface RuntimeMetrics {
  registry: Registry;
  /** Records one finished request (latency per operation, errors by __type). */
  observe(r: RequestRecord): void;
  /** Direct PUT records answered ServiceUnavailableException (Firehose ThrottledRecords). */
  throttledRecords(deliveryStream: string, records: number): void;
}

export function createMetricsRegistry(usage: ShardUsage): RuntimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'shardline_request_duration_seconds',
    help: 'Time from request start to the end of the response, by operation (SubscribeToShard: the whole subscription).',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'shardline_request_errors_total',
    help: 'Requests answered with an error, by operation and error __type (RequestTimeout: body too slow; ClientAborted: client went away).',
    labelNames: ['operation', 'type'],
    registers: [registry],
  });
  const throttled = new Counter({
    name: THROTTLED_RECORDS_METRIC,
    help: "Direct PUT records answered ServiceUnavailableException: over the delivery stream's quota, or not stored (Firehose ThrottledRecords).",
    labelNames: ['delivery_stream'],
    registers: [registry],
  });
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
    help: 'Age of the last record returned by the most recent GetRecords call on the shard, 0 when it returned none (Kinesis GetRecords.IteratorAgeMilliseconds, in seconds).',
    labelNames,
    registers: [registry],
    // Across workers the oldest is what matters, not a sum.
    aggregator: 'max',
    collect() {
      this.reset();
      for (const s of usage.served()) this.set({ stream: s.stream, shard: s.shardId }, s.iteratorAgeMs / 1000);
    },
  });
  return {
    registry,
    observe(r) {
      // Unknown targets would otherwise let any client mint label values.
      const operation = r.operation ?? 'unknown';
      duration.observe({ operation }, secondsSince(r.startedAt));
      if (r.errorType) errors.inc({ operation, type: r.errorType });
    },
    throttledRecords(deliveryStream, records) {
      if (records > 0) throttled.inc({ delivery_stream: deliveryStream }, records);
    },
  };
}
