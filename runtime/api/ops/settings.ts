// UpdateMaxRecordSize, and the account settings (DescribeAccountSettings /
// UpdateAccountSettings). Self-hosted there is no bill, so the minimum
// throughput billing commitment is bookkeeping only: its state machine follows
// Kinesis (24-hour minimum; disabling early schedules the end) and is kept in
// the config KV bucket so every runtime answers the same.
import type { KV } from 'nats';
import { updateStream, StreamNotFoundError } from '../../../stream/streams.js';
import { invalidArgument, KinesisError, resourceInUse, streamNotFound } from '../errors.js';
import { streamNameOf, NO_OUTPUT, type Operation } from '../context.js';

/** Framing a single record's message adds on top of its data (header, key, sealing). */
const RECORD_FRAMING_BYTES = 1024;

export const updateMaxRecordSize: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const kib = p.MaxRecordSizeInKiB as number;
  const maxPayload = ctx.store.nc.info?.max_payload;
  if (maxPayload !== undefined && kib * 1024 + RECORD_FRAMING_BYTES > maxPayload) {
    throw invalidArgument(
      `MaxRecordSizeInKiB ${kib} does not fit the NATS server's max_payload of ${maxPayload} bytes; ` +
        `raise max_payload (16MB allows 10240 KiB) to use records of this size.`,
    );
  }
  try {
    await updateStream(ctx.store, name, (r) => {
      if (r.status !== 'ACTIVE') {
        throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${r.status}`);
      }
      return r.maxRecordSizeKiB === kib ? undefined : { ...r, maxRecordSizeKiB: kib };
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(name);
  return NO_OUTPUT;
};

export type CommitmentStatus = 'ENABLED' | 'DISABLED' | 'ENABLED_UNTIL_EARLIEST_ALLOWED_END';

export interface Commitment {
  status: CommitmentStatus;
  startedAtMs?: number;
  endedAtMs?: number;
  earliestAllowedEndAtMs?: number;
}

/** Commitments last at least this long once enabled. */
export const MIN_COMMITMENT_MS = 24 * 3_600_000;

export const ACCOUNT_SETTINGS_KEY = 'account.settings';

/** The commitment as of `nowMs`: a scheduled end that has passed has happened. */
export function commitmentAt(c: Commitment, nowMs: number): Commitment {
  if (c.status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' && c.earliestAllowedEndAtMs !== undefined && nowMs >= c.earliestAllowedEndAtMs) {
    return { status: 'DISABLED', startedAtMs: c.startedAtMs, endedAtMs: c.earliestAllowedEndAtMs, earliestAllowedEndAtMs: c.earliestAllowedEndAtMs };
  }
  return c;
}

/** The commitment after asking for `want` at `nowMs`. */
export function nextCommitment(cur: Commitment, want: 'ENABLED' | 'DISABLED', nowMs: number, minMs = MIN_COMMITMENT_MS): Commitment {
  const c = commitmentAt(cur, nowMs);
  if (want === 'ENABLED') {
    if (c.status === 'ENABLED') return c;
    // Enabling again before the scheduled end cancels it.
    if (c.status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END') return { ...c, status: 'ENABLED' };
    return { status: 'ENABLED', startedAtMs: nowMs, earliestAllowedEndAtMs: nowMs + minMs };
  }
  if (c.status !== 'ENABLED') return c;
  if (c.earliestAllowedEndAtMs !== undefined && nowMs < c.earliestAllowedEndAtMs) {
    return { ...c, status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' };
  }
  return { ...c, status: 'DISABLED', endedAtMs: nowMs };
}

async function readCommitment(kv: KV): Promise<{ c: Commitment; revision: number }> {
  const e = await kv.get(ACCOUNT_SETTINGS_KEY);
  if (!e || e.operation !== 'PUT' || e.length === 0) return { c: { status: 'DISABLED' }, revision: 0 };
  const v = e.json<{ minimumThroughputBillingCommitment?: Commitment }>();
  return { c: v.minimumThroughputBillingCommitment ?? { status: 'DISABLED' }, revision: e.revision };
}

const shape = (c: Commitment) => ({
  MinimumThroughputBillingCommitment: {
    Status: c.status,
    StartedAt: c.startedAtMs !== undefined ? new Date(c.startedAtMs) : undefined,
    EndedAt: c.endedAtMs !== undefined ? new Date(c.endedAtMs) : undefined,
    EarliestAllowedEndAt: c.earliestAllowedEndAtMs !== undefined ? new Date(c.earliestAllowedEndAtMs) : undefined,
  },
});

export const describeAccountSettings: Operation = async (ctx) => {
  const { c } = await readCommitment(ctx.store.config);
  return shape(commitmentAt(c, Date.now()));
};

export const updateAccountSettings: Operation = async (ctx, p) => {
  const want = p.MinimumThroughputBillingCommitment.Status as 'ENABLED' | 'DISABLED';
  const kv = ctx.store.config;
  for (let attempt = 0; attempt < 20; attempt++) {
    const { c, revision } = await readCommitment(kv);
    const next = nextCommitment(c, want, Date.now());
    const value = JSON.stringify({ minimumThroughputBillingCommitment: next });
    try {
      if (revision === 0) await kv.create(ACCOUNT_SETTINGS_KEY, value);
      else await kv.update(ACCOUNT_SETTINGS_KEY, value, revision);
      return shape(next);
    } catch (e) {
      // Another runtime wrote in between: read again.
      const m = String((e as Error)?.message ?? e);
      if (!/wrong last sequence|10071|key exists/.test(m)) throw e;
    }
  }
  throw new KinesisError('LimitExceededException', 'Account settings are being changed concurrently; retry the request.');
};
