// The operator's view of the stream store. The implementation is the shard
// runtime's own stream/shard-map management (stream/streams.ts): one
// implementation of JetStream management, used by the Kinesis API and by us.
import * as streams from '../../stream/streams.js';
import { finishReshard, updateShardCount } from '../../stream/reshard.js';
import { setQuotaEnforcement } from '../../stream/quotaSettings.js';
import { setStreamEncryption, StreamNotActiveError, type StreamEncryption } from '../../stream/streamEncryption.js';
import { deregisterConsumer, liveConsumers, registerConsumer } from '../../stream/consumers.js';
import { connectStore, type Store, type StoreOptions } from '../../stream/connect.js';
import { sharedPacer } from '../../stream/creationPacer.js';
import type { AutoscalingSettings, StreamRecord, StreamSettings } from '../../stream/streamRecord.js';
import { ENV, envNumber } from '../../contract/env.js';
import {
  deleteDeliveryStream, deliveryStreamRecordsStream, ensureDeliveryDefinition, getDeliveryStream, listDeliveryStreams, openDeliveryStore, readDeliveryStats,
  type DeliveryStats, type DeliveryStore, type DeliveryStreamRecord, type NewDeliveryStream,
} from '../../stream/deliveryStreams.js';
import { autoscaleBucket, readScaling, setAutoscaling, type StreamScaling } from '../../stream/autoscaling.js';
import type { ConsumerGroup, GroupLag } from '../workerScaling/sampler.js';
import { consumerLagReader } from './consumerLag.js';
import { applicationsKv, listApplications } from '../../stream/applications.js';

/** Definitions created through the Firehose / Kinesis Analytics APIs whose workers the operator runs (reconcile/apiWorkers.ts). */
export interface ApiDefinitions {
  /** ACTIVE delivery streams the API owns. */
  deliveries: ApiDelivery[];
  /** Applications the API owns, in any status but DELETING (the worker follows the status itself). */
  applications: ApiApplication[];
}

/** What an API-created application's worker children depend on besides its name. */
export interface ApiApplication {
  name: string;
  uid: string;
  lambdaArns: string[];
  /** The stored definition (contract/analytics.ts ApplicationDefinition): whether its replicas split shards. */
  definition: unknown;
  /** The record's run (its consumer group) and status. */
  runId?: string;
  status: string;
  /** The stream the first input's records are read from (a delivery stream input's records stream); undefined when it cannot be resolved. */
  readStream?: string;
}

/** What an API-created delivery stream's worker children depend on besides its name. */
export interface ApiDelivery {
  name: string;
  uid: string;
  /** The Kinesis source's stream (KinesisStreamAsSource only): an encrypted one's keys go to the worker. */
  sourceStream?: string;
  /** The stream the workers read (the Kinesis source, or a Direct PUT stream's backing stream): their consumer group's lag drives autoscaling. */
  readStream: string;
  /** LambdaArn parameters of its Lambda processors that are ARNs, not http(s) URLs (the operator maps them to URLs). */
  lambdaArns: string[];
}

/** The Lambda processors' ARNs of a definition (S3 and HTTP endpoint chains); a URL is called as is, so it needs no map. */
export function lambdaArnsOf(d: Pick<DeliveryStreamRecord, 's3' | 'http'>): string[] {
  const arns = new Set<string>();
  for (const pc of [d.s3?.ProcessingConfiguration, d.http?.ProcessingConfiguration]) {
    for (const p of pc?.Processors ?? []) {
      if (p.Type !== 'Lambda') continue;
      const arn = p.Parameters?.find((x) => x.ParameterName === 'LambdaArn')?.ParameterValue;
      if (arn && !/^https?:\/\//.test(arn)) arns.add(arn);
    }
  }
  return [...arns].sort();
}

/** The LambdaOutput ARNs of an application definition (contract/analytics.ts outputs; a URL needs no map). */
export function applicationLambdaArns(definition: unknown): string[] {
  const outputs = (definition as { outputs?: { destination?: { kind?: string; arn?: unknown } }[] } | undefined)?.outputs ?? [];
  const arns = outputs.flatMap((o) => (o.destination?.kind === 'lambda' && typeof o.destination.arn === 'string' && !/^https?:\/\//.test(o.destination.arn) ? [o.destination.arn] : []));
  return [...new Set(arns)].sort();
}

export type { StreamRecord, StreamSettings, StreamEncryption };

export interface StreamStore {
  get(name: string): Promise<StreamRecord | undefined>;
  /** Names of every stream in the store. */
  listNames(): Promise<string[]>;
  ensure(settings: StreamSettings): Promise<StreamRecord>;
  delete(name: string): Promise<void>;
  setRetention(name: string, hours: number): Promise<StreamRecord>;
  /** Present once the runtime implements resharding (issue 3). Rejections throw a ReshardError. */
  updateShardCount?: (name: string, count: number) => Promise<StreamRecord>;
  /** Completes a reshard a crashed process left UPDATING. */
  finishReshard?: (rec: StreamRecord) => Promise<StreamRecord>;
  setQuotaEnforcement(name: string, on: boolean): Promise<StreamRecord>;
  /** UpdateStreamMode and AddTagsToStream semantics, through the store's compare-and-set. */
  setMode(name: string, mode: StreamRecord['mode']): Promise<StreamRecord>;
  mergeTags(name: string, tags: Record<string, string>): Promise<StreamRecord>;
  /**
   * StartStreamEncryption / StopStreamEncryption semantics, through the store's
   * compare-and-set. A stream that is not ACTIVE is left as it is (the record is returned).
   */
  setEncryption(name: string, encryption: StreamEncryption): Promise<StreamRecord>;
  /** Enhanced fan-out consumers the operator registers carry this tag; only those are ever deregistered by it. */
  registerConsumer(name: string, consumer: string): Promise<void>;
  deregisterConsumer(name: string, consumer: string): Promise<void>;
  liveConsumers(rec: StreamRecord): Array<{ name: string; status: string; managed: boolean }>;
  /** A DeliveryStream resource's definition in the delivery bucket (created, updated, activated); DefinitionOwnerError when another owner has the name. */
  ensureDelivery?(def: NewDeliveryStream): Promise<DeliveryStreamRecord>;
  /** The workers' reported progress for a delivery stream (stream/deliveryStreams.ts readDeliveryStats). */
  deliveryStats?(name: string): Promise<DeliveryStats | undefined>;
  /** Deletes the definition `name` if `owner` owns it (a deleted DeliveryStream resource's). */
  removeDelivery?(owner: { kind: 'resource'; namespace: string; name: string }, name: string): Promise<void>;
  /** What the owner asks of the store's autoscaler (undefined: store-wide defaults). */
  setAutoscaling(name: string, settings: AutoscalingSettings | undefined): Promise<StreamRecord>;
  /** The autoscaler's decisions and hot keys for a stream. */
  scaling(uid: string): Promise<StreamScaling | undefined>;
  /** Calls back with the stream name whenever the autoscaler records something; returns a stop function. */
  watchScaling(onChange: (stream: string) => void): Promise<() => void>;
  /** The lag a consumer group's workers report in their leases, and the stream's open shards (worker autoscaling). */
  consumerLag?(group: ConsumerGroup): Promise<GroupLag>;
  /** The API-created definitions that need workers. */
  apiDefinitions?(): Promise<ApiDefinitions>;
  /** Calls back when a delivery stream or application definition changes; returns a stop function. */
  watchApiDefinitions?(onChange: (kind: 'delivery' | 'analytics') => void): Promise<() => void>;
  close(): Promise<void>;
}

/** The store is still waiting for NATS or JetStream (e.g. a nats-server restoring its streams): retried, not a failure. */
export class StoreNotReadyError extends Error {
  constructor(natsUrl: string, waitedMs: number, progress: string) {
    super(`waiting for NATS at ${natsUrl} for ${Math.round(waitedMs / 1000)} s (nats-server may be restoring its streams)${progress ? `; last: ${progress}` : ''}`);
  }
}

export const MANAGED_CONSUMER_TAG = 'shardline.dev/managed-by';
// Same default as the runtime (SHARDLINE_CONSUMER_TRANSITION_MS): CREATING -> ACTIVE after this long.
const transitionMs = () => envNumber(process.env, ENV.consumerTransitionMs, 500);

/**
 * With `waitLog`, waits for NATS and JetStream to be ready (a nats-server
 * restoring many shard streams does not listen for a minute or more),
 * reporting progress there; only a real failure (e.g. TLS or credentials
 * refused) rejects. Without it, an unreachable NATS rejects at once.
 */
export async function connectStreamStore(
  natsUrl: string, replicas = 1, connectOptions?: StoreOptions['connectOptions'], waitLog?: (msg: string) => void,
): Promise<StreamStore> {
  const store: Store = await connectStore({ natsUrl, name: 'shardline-operator', replicas, connectOptions, waitLog });
  let delivery: Promise<DeliveryStore> | undefined;
  return {
    consumerLag: consumerLagReader(store),
    ensureDelivery: async (def) => ensureDeliveryDefinition(await (delivery ??= openDeliveryStore(store)), def),
    deliveryStats: async (name) => readDeliveryStats(await (delivery ??= openDeliveryStore(store)), name),
    removeDelivery: async (owner, name) => {
      const ds = await (delivery ??= openDeliveryStore(store));
      const cur = await getDeliveryStream(ds, name);
      if (cur && JSON.stringify(cur.owner) === JSON.stringify(owner)) await deleteDeliveryStream(ds, name);
    },
    apiDefinitions: async () => {
      const ds = await (delivery ??= openDeliveryStore(store));
      const deliveries = (await listDeliveryStreams(ds)).filter((d) => d.owner.kind === 'api' && d.status === 'ACTIVE').map((d) => ({
        name: d.name, uid: d.uid, readStream: d.sourceStream, lambdaArns: lambdaArnsOf(d), ...(d.type === 'KinesisStreamAsSource' ? { sourceStream: d.sourceStream } : {}),
      }));
      // Application records have no uid: the creation time tells a re-created application from the old one.
      const applications: ApiApplication[] = [];
      for (const a of (await listApplications(await applicationsKv(store))).filter((x) => x.owner === 'api' && x.status !== 'DELETING')) {
        const first = (a.definition as { inputs?: Array<{ source?: { kind: string; name: string } }> } | undefined)?.inputs?.[0]?.source;
        const readStream = first?.kind === 'firehose' ? await deliveryStreamRecordsStream(store, first.name).catch(() => undefined) : first?.name;
        applications.push({
          name: a.name, uid: String(a.createdAtMs), lambdaArns: applicationLambdaArns(a.definition), definition: a.definition, status: a.status,
          ...(a.runId ? { runId: a.runId } : {}), ...(readStream ? { readStream } : {}),
        });
      }
      return { deliveries, applications };
    },
    watchApiDefinitions: async (onChange) => {
      const ds = await (delivery ??= openDeliveryStore(store));
      const watches = [
        { kind: 'delivery' as const, it: await ds.defs.watch({ key: 'ds.>' }) },
        { kind: 'analytics' as const, it: await (await applicationsKv(store)).watch() },
      ];
      for (const w of watches) void (async () => { for await (const _e of w.it) onChange(w.kind); })().catch(() => undefined);
      return () => watches.forEach((w) => w.it.stop());
    },
    get: (name) => streams.getStream(store, name),
    listNames: () => streams.listStreamNames(store),
    // Paced like the runtime's creations (stream/creationPacer.ts): a large DataStream must not exhaust nats-server's descriptors.
    ensure: (settings) => streams.ensureStream(store, settings, { pace: () => sharedPacer().acquire() }),
    delete: (name) => streams.deleteStream(store, name),
    setRetention: (name, hours) => streams.setRetention(store, name, hours),
    updateShardCount: (name: string, count: number) => updateShardCount(store, name, count, { pace: () => sharedPacer().acquire() }),
    finishReshard: (rec: StreamRecord) => finishReshard(store, rec, { pace: () => sharedPacer().acquire() }),
    setQuotaEnforcement: (name, on) => setQuotaEnforcement(store, name, on),
    setAutoscaling: (name, settings) => setAutoscaling(store, name, settings),
    scaling: async (uid) => readScaling(await autoscaleBucket(store), uid),
    watchScaling: async (onChange) => {
      const kv = await autoscaleBucket(store);
      const it = await kv.watch({ key: 'stream.>' });
      void (async () => {
        for await (const e of it) {
          if (e.operation !== 'PUT') continue;
          try {
            onChange(e.json<StreamScaling>().stream);
          } catch {
            // not a scaling record
          }
        }
      })().catch(() => undefined);
      return () => it.stop();
    },
    setMode: (name, mode) => streams.updateStream(store, name, (r) => (r.mode === mode || r.status !== 'ACTIVE' ? undefined : { ...r, mode })),
    mergeTags: (name, tags) => streams.updateStream(store, name, (r) =>
      Object.entries(tags).every(([k, v]) => r.tags?.[k] === v) ? undefined : { ...r, tags: { ...r.tags, ...tags } }),
    setEncryption: async (name, encryption) => {
      try {
        return await setStreamEncryption(store, name, encryption);
      } catch (e) {
        const rec = e instanceof StreamNotActiveError ? await streams.getStream(store, name) : undefined;
        if (!rec) throw e;
        return rec;
      }
    },
    registerConsumer: async (name, consumer) => {
      await registerConsumer(store, name, consumer, {
        transitionMs: transitionMs(),
        tags: { [MANAGED_CONSUMER_TAG]: 'shardline-operator' },
        messages: {
          exists: `Consumer ${consumer} already exists on ${name}.`,
          limit: `Stream ${name} already has the maximum number of consumers.`,
          streamNotActive: (st) => `Stream ${name} is ${st}.`,
        },
      });
    },
    deregisterConsumer: async (name, consumer) => {
      await deregisterConsumer(store, name, (c) => c.name === consumer, {
        transitionMs: transitionMs(),
        notActive: (c) => `Consumer ${c.name} is ${c.status}.`,
      });
    },
    liveConsumers: (rec) => {
      const tagged = new Set((rec.consumers ?? []).filter((c) => c.tags?.[MANAGED_CONSUMER_TAG]).map((c) => c.name));
      return liveConsumers(rec, Date.now(), transitionMs()).map((c) => ({ name: c.name, status: c.status, managed: tagged.has(c.name) }));
    },
    close: () => store.close(),
  };
}

export const openShardsOf = (r: StreamRecord) => r.shards.filter((s) => s.endingSequenceNumber === undefined);

/** A reshard the stream's state does not allow (the runtime's ReshardError): not retryable as is. */
export const isReshardRejection = (e: unknown): e is Error & { kind: string } =>
  e instanceof Error && typeof (e as { kind?: unknown }).kind === 'string' && e.constructor.name === 'ReshardError';
