// Prometheus metrics of the consumer library, per application and shard
// (CloudWatch's KCL metrics by their Prometheus names). One set per registry:
// several Consumers in one process share it through the labels.
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';

export interface ConsumerMetrics {
  millisBehindLatest: Gauge<'application' | 'stream' | 'shard'>;
  iteratorAgeMs: Gauge<'application' | 'stream' | 'shard'>;
  records: Counter<'application' | 'stream' | 'shard'>;
  bytes: Counter<'application' | 'stream' | 'shard'>;
  leases: Gauge<'application' | 'stream' | 'worker'>;
  transfers: Counter<'application' | 'stream' | 'kind'>;
  latency: Histogram<'application' | 'stream'>;
}

const sets = new WeakMap<Registry, ConsumerMetrics>();

export function consumerMetrics(registry: Registry = globalRegistry): ConsumerMetrics {
  let m = sets.get(registry);
  if (m) return m;
  const registers = [registry];
  const shard = ['application', 'stream', 'shard'] as const;
  m = {
    millisBehindLatest: new Gauge({ name: 'shardline_consumer_millis_behind_latest', help: 'How far the last read was behind the shard tip (ms)', labelNames: shard, registers }),
    iteratorAgeMs: new Gauge({ name: 'shardline_consumer_iterator_age_ms', help: 'Age of the last record handed to processRecords (ms)', labelNames: shard, registers }),
    records: new Counter({ name: 'shardline_consumer_records_processed_total', help: 'User records processed', labelNames: shard, registers }),
    bytes: new Counter({ name: 'shardline_consumer_bytes_processed_total', help: 'Data bytes of the records processed', labelNames: shard, registers }),
    leases: new Gauge({ name: 'shardline_consumer_leases', help: 'Shard leases held by this worker', labelNames: ['application', 'stream', 'worker'], registers }),
    transfers: new Counter({
      name: 'shardline_consumer_lease_transfers_total',
      help: 'Leases this worker took over: kind = free (unowned), expired (its owner stopped renewing), handoff (graceful steal); lost = taken from it',
      labelNames: ['application', 'stream', 'kind'],
      registers,
    }),
    latency: new Histogram({
      name: 'shardline_consumer_processing_seconds',
      help: 'Time processRecords took per batch',
      labelNames: ['application', 'stream'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
  };
  sets.set(registry, m);
  return m;
}
