// The delivery worker's metrics, Firehose's CloudWatch names mapped to
// Prometheus (IncomingRecords → shardline_firehose_incoming_records_total, ...),
// labelled by delivery stream. One registry per worker.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface DeliveryMetrics {
  registry: Registry;
  incoming(records: number, bytes: number): void;
  /** One object written. */
  delivered(records: number, bytes: number, ms: number): void;
  /** A failure by kind: an S3 error (records 0, the put is retried) or records written to the error prefix. */
  failed(kind: string, records: number, message?: string): void;
  /** Records an HTTP endpoint accepted (Firehose DeliveryToHttpEndpoint.*). */
  deliveredHttp(records: number, ms: number): void;
  /** One transform invocation (Firehose ExecuteProcessing.Success and .Duration). */
  executedProcessing(ok: boolean, ms: number): void;
  /** Dynamic partitioning: the last flush's active partitions and whether it went over the limit (Firehose PartitionCount, PartitionCountExceeded). */
  partitions(count: number, exceeded: boolean): void;
  /** Totals for the operator's status; `destinationError` is set from a failed put until the next success. */
  totals(): { deliveredRecords: number; lastDeliveryMs?: number; failures: Record<string, number>; destinationError?: { kind: string; message: string; atMs: number } };
}

/**
 * `oldestPendingMs`: arrival of the oldest record this worker has read and not yet delivered
 * (buffered or being flushed), read when the gauge is scraped.
 */
export function deliveryMetrics(deliveryStream: string, oldestPendingMs: () => number | undefined = () => undefined): DeliveryMetrics {
  const registry = new Registry();
  const labels = { delivery_stream: deliveryStream };
  const c = (name: string, help: string, labelNames: string[] = ['delivery_stream']) => new Counter({ name, help, labelNames, registers: [registry] });
  const incomingRecords = c('shardline_firehose_incoming_records_total', 'Records read from the source (Firehose IncomingRecords).');
  const incomingBytes = c('shardline_firehose_incoming_bytes_total', 'Bytes read from the source (Firehose IncomingBytes).');
  const s3Records = c('shardline_firehose_delivery_to_s3_records_total', 'Records delivered to S3 (Firehose DeliveryToS3.Records).');
  const s3Bytes = c('shardline_firehose_delivery_to_s3_bytes_total', 'Object bytes delivered to S3 (Firehose DeliveryToS3.Bytes).');
  const s3Success = c('shardline_firehose_delivery_to_s3_success_total', 'Successful S3 puts (Firehose DeliveryToS3.Success, as a count).');
  const s3Failures = c('shardline_firehose_delivery_to_s3_failures_total', 'Failed S3 puts by error kind.', ['delivery_stream', 'kind']);
  const httpRecords = c('shardline_firehose_delivery_to_http_endpoint_records_total', 'Records accepted by the HTTP endpoint (Firehose DeliveryToHttpEndpoint.Records).');
  const httpSuccess = c('shardline_firehose_delivery_to_http_endpoint_success_total', 'Requests the HTTP endpoint accepted (Firehose DeliveryToHttpEndpoint.Success, as a count).');
  // Firehose's ExecuteProcessing.Success is successful invocations over all: the ratio of these two counters.
  const processingInvocations = c('shardline_firehose_execute_processing_invocations_total', 'Transform (Lambda) invocations, retries included.');
  const processingSuccess = c('shardline_firehose_execute_processing_success_total', 'Transform invocations that gave a usable response (Firehose ExecuteProcessing.Success = success / invocations).');
  const processingSeconds = new Histogram({
    name: 'shardline_firehose_execute_processing_duration_seconds', help: 'Duration of one transform invocation (Firehose ExecuteProcessing.Duration).',
    labelNames: ['delivery_stream'], registers: [registry], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 900],
  });
  const errorRecords = c('shardline_firehose_error_output_records_total', 'Records written to the error prefix, by error-output-type.', ['delivery_stream', 'type']);
  // Firehose's DataFreshness: the age of the oldest record not yet delivered (every older record is
  // in S3), taken when scraped; 0 when everything read has been delivered.
  new Gauge({
    name: 'shardline_firehose_delivery_to_s3_data_freshness_seconds',
    help: 'Age of the oldest record read and not yet delivered, 0 when none (Firehose DeliveryToS3.DataFreshness).',
    labelNames: ['delivery_stream'], registers: [registry],
    collect() {
      const oldest = oldestPendingMs();
      this.set(labels, oldest === undefined ? 0 : Math.max(0, Date.now() - oldest) / 1000);
    },
  });
  const putSeconds = new Histogram({
    name: 'shardline_firehose_delivery_to_s3_put_seconds', help: 'Duration of one S3 object put.',
    labelNames: ['delivery_stream'], registers: [registry], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  });
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['delivery_stream'], registers: [registry] });
  const partitionCount = gauge('shardline_firehose_partition_count', 'Active partitions of the last flush with dynamic partitioning (Firehose PartitionCount).');
  const partitionCountExceeded = gauge('shardline_firehose_partition_count_exceeded', '1 when the last flush had more partitions than the limit, its extra records in the error prefix (Firehose PartitionCountExceeded).');
  let deliveredRecords = 0;
  let lastDeliveryMs: number | undefined;
  const failures: Record<string, number> = {};
  let destinationError: { kind: string; message: string; atMs: number } | undefined;
  return {
    registry,
    incoming(records, bytes) {
      incomingRecords.inc(labels, records);
      incomingBytes.inc(labels, bytes);
    },
    delivered(records, bytes, ms) {
      s3Records.inc(labels, records);
      s3Bytes.inc(labels, bytes);
      s3Success.inc(labels);
      putSeconds.observe(labels, ms / 1000);
      lastDeliveryMs = Date.now();
      deliveredRecords += records;
      destinationError = undefined;
    },
    deliveredHttp(records) {
      httpRecords.inc(labels, records);
      httpSuccess.inc(labels);
      lastDeliveryMs = Date.now();
      deliveredRecords += records;
      destinationError = undefined;
    },
    partitions(count, exceeded) {
      partitionCount.set(labels, count);
      partitionCountExceeded.set(labels, exceeded ? 1 : 0);
    },
    executedProcessing(ok, ms) {
      processingInvocations.inc(labels);
      if (ok) processingSuccess.inc(labels);
      processingSeconds.observe(labels, ms / 1000);
    },
    failed(kind, records, message) {
      if (records > 0) errorRecords.inc({ ...labels, type: kind }, records);
      else {
        s3Failures.inc({ ...labels, kind });
        destinationError = { kind, message: message ?? kind, atMs: Date.now() };
      }
      failures[kind] = (failures[kind] ?? 0) + Math.max(1, records);
    },
    totals: () => ({ deliveredRecords, lastDeliveryMs, failures: { ...failures }, destinationError }),
  };
}
