// Re-checks what the CRD schema checks at admission, plus the CEL rules an
// apiserver older than 1.25 cannot enforce, and immutable fields against the
// values pinned in status. A bad spec becomes Stalled/InvalidSpec, never a crash.
import type { z } from 'zod';
import { DataStreamSpec, type DataStream } from '../../crds/schema/datastream.js';
import { DeliveryStreamSpec } from '../../crds/schema/deliverystream.js';
import { AnalyticsAppSpec } from '../../crds/schema/analyticsapp.js';

export type Validated<T> = { ok: true; spec: T } | { ok: false; reason: string; message: string };

function parse<T>(schema: z.ZodType<T>, raw: unknown): Validated<T> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return { ok: true, spec: r.data };
  const msg = r.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
  return { ok: false, reason: 'InvalidSpec', message: msg };
}

const invalid = (message: string) => ({ ok: false as const, reason: 'InvalidSpec', message });

export function validateDataStream(ds: DataStream): Validated<DataStreamSpec> {
  const r = parse(DataStreamSpec, ds.spec);
  if (!r.ok) return r;
  const s = r.spec;
  if (s.onDemand.minShards > s.onDemand.maxShards) return invalid('spec.onDemand.minShards must not exceed maxShards');
  if (s.mode === 'ON_DEMAND' && (s.shards < s.onDemand.minShards || s.shards > s.onDemand.maxShards)) {
    return invalid('ON_DEMAND: spec.shards must lie within onDemand.minShards..maxShards');
  }
  const pinned = ds.status?.streamName;
  const wanted = s.streamName ?? ds.metadata.name;
  if (pinned && pinned !== wanted) {
    return { ok: false, reason: 'ImmutableFieldChanged', message: `spec.streamName is immutable (stream is ${pinned}, spec asks for ${wanted})` };
  }
  return r;
}

/** The CEL rule of spec.autoscaling, for apiservers that do not enforce CEL. */
function autoscalingError(a: { minReplicas: number; maxReplicas: number } | undefined): string | undefined {
  if (a && a.minReplicas > a.maxReplicas) return `spec.autoscaling.minReplicas (${a.minReplicas}) must not exceed maxReplicas (${a.maxReplicas})`;
  return undefined;
}

export function validateDeliveryStream(raw: unknown) {
  const r = parse(DeliveryStreamSpec, raw);
  if (!r.ok) return r;
  const s = r.spec;
  const scaling = autoscalingError(s.autoscaling);
  if (scaling) return invalid(scaling);
  if (!s.s3 && !s.http) return invalid('at least one destination (spec.s3 or spec.http) is required');
  if (s.source.type === 'DataStream' && !s.source.dataStreamRef) return invalid('spec.source.dataStreamRef is required for source type DataStream');
  // The CRD's CEL rules, checked here too (apiservers without CEL accept anything).
  if (s.s3?.format === 'PARQUET') {
    if (!s.s3.parquet) return invalid('spec.s3.parquet (the schema) is required for format PARQUET');
    if (s.s3.compression !== 'UNCOMPRESSED') return invalid('format PARQUET needs spec.s3.compression UNCOMPRESSED (Parquet compresses its pages: spec.s3.parquet.compression)');
    // The CEL rule's twin: a 1.20 apiserver (no CEL) admits both or neither.
    if (!s.s3.parquet.schema === !s.s3.parquet.catalogTable) return invalid('spec.s3.parquet needs exactly one of schema (inline columns) and catalogTable (a Glue catalog table)');
    if (s.s3.parquet.hive && s.s3.parquet.deserializer !== 'Hive') return invalid('spec.s3.parquet.hive needs deserializer Hive');
    if (s.s3.parquet.openX && s.s3.parquet.deserializer !== 'OpenX') return invalid('spec.s3.parquet.openX needs deserializer OpenX');
  }
  return r;
}

export function validateAnalyticsApp(raw: unknown) {
  const r = parse(AnalyticsAppSpec, raw);
  if (!r.ok) return r;
  const scaling = autoscalingError(r.spec.autoscaling);
  if (scaling) return invalid(scaling);
  for (const [n, i] of r.spec.inputs.entries()) {
    if (!i.dataStreamRef === !i.deliveryStreamRef) return invalid(`spec.inputs[${n}]: exactly one of dataStreamRef or deliveryStreamRef`);
  }
  for (const [i, o] of r.spec.outputs.entries()) {
    const n = [o.dataStreamRef, o.deliveryStreamRef, o.http, o.lambda].filter(Boolean).length;
    if (n !== 1) return invalid(`spec.outputs[${i}]: exactly one of dataStreamRef, deliveryStreamRef, http or lambda`);
  }
  // Event time: the watermark names one of the input's columns, a TIMESTAMP.
  for (const [i, input] of r.spec.inputs.entries()) {
    const w = input.watermark;
    if (!w) continue;
    const c = input.columns.find((x) => x.name.toUpperCase() === w.column.toUpperCase());
    if (!c) return invalid(`spec.inputs[${i}].watermark.column: ${w.column} is not a column of the input`);
    if (!/^\s*TIMESTAMP\b/i.test(c.sqlType)) return invalid(`spec.inputs[${i}].watermark.column: ${w.column} is ${c.sqlType}, not TIMESTAMP`);
  }
  // The worker reaches a function named by ARN through one ARN → URL map.
  const urls = new Map<string, string>();
  for (const [i, o] of r.spec.outputs.entries()) {
    const l = o.lambda;
    if (!l?.functionArn) continue;
    const seen = urls.get(l.functionArn);
    if (seen !== undefined && seen !== l.functionUrl) return invalid(`spec.outputs[${i}].lambda: function ${l.functionArn} is given two URLs (${seen}, ${l.functionUrl})`);
    urls.set(l.functionArn, l.functionUrl);
  }
  return r;
}
