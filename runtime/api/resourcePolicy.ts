// Resource-based policies (PutResourcePolicy): parsing, and enforcement of
// their Deny statements against the caller's SigV4 identity.
//
// What is enforced: a request whose access key id is named by an explicit Deny
// statement — Principal "*", {"AWS": "*"}, the account (its id or
// arn:aws:iam::<account>:root), or arn:aws:iam::<account>:user/<accessKeyId> —
// for the request's action (kinesis:<Operation>, wildcards allowed) on the
// stream or consumer (Resource, wildcards allowed; absent: the resource the
// policy is attached to) gets AccessDeniedException. NotPrincipal, NotAction
// and NotResource are honoured. Condition blocks are not evaluated: a Deny with
// a Condition is enforced as if the condition held (fails closed). Allow
// statements are stored only: without a policy, every authenticated caller may
// do everything, as before. Without SigV4 (no credentials configured) there is
// no identity and nothing is enforced.
import { accessDenied, invalidArgument } from './errors.js';
import { streamArn, type ApiContext, type Params } from './context.js';

type Strings = string[];

interface Statement {
  effect: 'Allow' | 'Deny';
  principal?: PrincipalSpec;
  notPrincipal?: PrincipalSpec;
  action?: Strings;
  notAction?: Strings;
  resource?: Strings;
  notResource?: Strings;
}

/** "*" or {AWS: [...], Service: [...], …}. */
type PrincipalSpec = '*' | Record<string, Strings>;

export interface PolicyDocument {
  statements: Statement[];
}

/** Largest policy document accepted (AWS: 20 KiB for Kinesis resource policies). */
export const MAX_POLICY_CHARS = 20 * 1024;

class PolicyError extends Error {}

function strings(v: unknown, what: string): Strings {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  throw new PolicyError(`${what} must be a string or a non-empty list of strings`);
}

function principalOf(v: unknown, what: string): PrincipalSpec {
  if (v === '*') return '*';
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length === 0) {
    throw new PolicyError(`${what} must be "*" or an object such as {"AWS": "arn:aws:iam::123456789012:user/name"}`);
  }
  const out: Record<string, Strings> = {};
  for (const [k, x] of Object.entries(v)) out[k] = strings(x, `${what}.${k}`);
  return out;
}

function statementOf(v: unknown, i: number): Statement {
  const at = `Statement[${i}]`;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PolicyError(`${at} must be an object`);
  const s = v as Record<string, unknown>;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${at}.Effect must be "Allow" or "Deny"`);
  if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicyError(`${at} must have exactly one of Action and NotAction`);
  if ((s.Principal === undefined) === (s.NotPrincipal === undefined)) {
    throw new PolicyError(`${at} must have exactly one of Principal and NotPrincipal`);
  }
  if (s.Resource !== undefined && s.NotResource !== undefined) throw new PolicyError(`${at} must not have both Resource and NotResource`);
  if (s.Condition !== undefined && (s.Condition === null || typeof s.Condition !== 'object' || Array.isArray(s.Condition))) {
    throw new PolicyError(`${at}.Condition must be an object`);
  }
  return {
    effect: s.Effect,
    ...(s.Principal !== undefined && { principal: principalOf(s.Principal, `${at}.Principal`) }),
    ...(s.NotPrincipal !== undefined && { notPrincipal: principalOf(s.NotPrincipal, `${at}.NotPrincipal`) }),
    ...(s.Action !== undefined && { action: strings(s.Action, `${at}.Action`) }),
    ...(s.NotAction !== undefined && { notAction: strings(s.NotAction, `${at}.NotAction`) }),
    ...(s.Resource !== undefined && { resource: strings(s.Resource, `${at}.Resource`) }),
    ...(s.NotResource !== undefined && { notResource: strings(s.NotResource, `${at}.NotResource`) }),
  };
}

function parseDocument(text: string): PolicyDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('the policy is not valid JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new PolicyError('the policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') {
    throw new PolicyError('Version must be "2012-10-17" or "2008-10-17"');
  }
  const raw = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? [] : [d.Statement];
  if (raw.length === 0) throw new PolicyError('the policy must have at least one Statement');
  return { statements: raw.map(statementOf) };
}

/** Checks a policy for PutResourcePolicy; InvalidArgumentException saying what is wrong. */
export function validatePolicy(text: string): PolicyDocument {
  if (text.length > MAX_POLICY_CHARS) {
    throw invalidArgument(`Policy size ${text.length} exceeds the maximum allowed size of ${MAX_POLICY_CHARS} characters.`);
  }
  try {
    return parseDocument(text);
  } catch (e) {
    if (e instanceof PolicyError) throw invalidArgument(`Invalid policy document: ${e.message}.`);
    throw e;
  }
}

const parsedCache = new Map<string, PolicyDocument | null>();

/** A stored policy, parsed once; null when it no longer parses (stored by an older version). */
function parsed(text: string): PolicyDocument | null {
  let d = parsedCache.get(text);
  if (d === undefined) {
    try {
      d = parseDocument(text);
    } catch {
      d = null;
    }
    if (parsedCache.size > 1000) parsedCache.clear();
    parsedCache.set(text, d);
  }
  return d;
}

const globCache = new Map<string, RegExp>();

/** IAM wildcard match: `*` any run, `?` one character. */
function glob(pattern: string, value: string, caseInsensitive: boolean): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return caseInsensitive ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  const k = `${caseInsensitive ? 'i' : 's'}${pattern}`;
  let re = globCache.get(k);
  if (!re) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
    if (globCache.size > 1000) globCache.clear();
    globCache.set(k, re);
  }
  return re.test(value);
}

export interface AccessRequest {
  /** arn:aws:iam::<account>:user/<accessKeyId> */
  principalArn: string;
  accountId: string;
  /** kinesis:<Operation> */
  action: string;
  /** ARN of the stream or consumer acted on. */
  resource: string;
}

function principalMatches(spec: PrincipalSpec, req: AccessRequest): boolean {
  if (spec === '*') return true;
  const aws = spec.AWS ?? [];
  return aws.some(
    (p) => p === '*' || p === req.principalArn || p === req.accountId || p === `arn:aws:iam::${req.accountId}:root`,
  );
}

/** True when an explicit Deny statement of the policy applies to the request. */
export function explicitlyDenied(doc: PolicyDocument, req: AccessRequest): boolean {
  return doc.statements.some((s) => {
    if (s.effect !== 'Deny') return false;
    if (s.principal && !principalMatches(s.principal, req)) return false;
    if (s.notPrincipal && principalMatches(s.notPrincipal, req)) return false;
    if (s.action && !s.action.some((a) => glob(a, req.action, true))) return false;
    if (s.notAction && s.notAction.some((a) => glob(a, req.action, true))) return false;
    if (s.resource && !s.resource.some((r) => glob(r, req.resource, false))) return false;
    if (s.notResource && s.notResource.some((r) => glob(r, req.resource, false))) return false;
    return true;
  });
}

const RESOURCE_ARN_RE = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})(?:\/consumer\/([a-zA-Z0-9_.-]{1,128}:\d{1,12}))?$/;

export interface ResourceRef {
  region: string;
  account: string;
  stream: string;
  /** `<consumer name>:<creation epoch seconds>` for a consumer ARN. */
  consumer?: string;
}

/** A stream or consumer ARN's parts; undefined when it is neither. */
export function parseResourceArn(arn: string): ResourceRef | undefined {
  const m = RESOURCE_ARN_RE.exec(arn);
  if (!m) return undefined;
  return { region: m[1]!, account: m[2]!, stream: m[3]!, ...(m[4] !== undefined && { consumer: m[4] }) };
}

/** The stream (and consumer) a request acts on, as far as it can be told without running it. */
function targetOf(ctx: ApiContext, p: Params): { stream: string; consumer?: string } | undefined {
  // GetRecords acts on the iterator's stream, whatever StreamARN says (the
  // operation rejects a StreamARN that does not match it): a policy is never
  // looked up on a stream the call does not read.
  if (typeof p.ShardIterator === 'string') {
    const it = ctx.iterators.decode(p.ShardIterator);
    return it ? { stream: it.streamName } : undefined;
  }
  const arn = p.ConsumerARN ?? p.ResourceARN ?? p.StreamARN;
  if (typeof arn === 'string') {
    const r = parseResourceArn(arn);
    return r && r.account === ctx.config.accountId && r.region === ctx.config.region ? r : undefined;
  }
  if (typeof p.StreamName === 'string') return { stream: p.StreamName };
  return undefined;
}

/**
 * Answers AccessDeniedException when the stream's (or consumer's) resource
 * policy explicitly denies this caller the operation. Cheap when the stream
 * has no policy: one cache lookup.
 */
export async function enforceResourcePolicy(ctx: ApiContext, op: string, p: Params, accessKeyId: string): Promise<void> {
  const target = targetOf(ctx, p);
  if (!target) return;
  const s = ctx.cache.get(target.stream) ?? (await ctx.cache.lookup(target.stream));
  if (!s) return;
  const { resourcePolicy, consumerPolicies } = s.record;
  const consumerPolicy = target.consumer !== undefined ? consumerPolicies?.[target.consumer] : undefined;
  if (resourcePolicy === undefined && consumerPolicy === undefined) return;
  const stream = streamArn(ctx, target.stream);
  const req: AccessRequest = {
    principalArn: `arn:aws:iam::${ctx.config.accountId}:user/${accessKeyId}`,
    accountId: ctx.config.accountId,
    action: `kinesis:${op}`,
    resource: target.consumer !== undefined ? `${stream}/consumer/${target.consumer}` : stream,
  };
  for (const text of [resourcePolicy, consumerPolicy]) {
    if (text === undefined) continue;
    const doc = parsed(text);
    if (doc && explicitlyDenied(doc, req)) {
      throw accessDenied(
        `User: ${req.principalArn} is not authorized to perform: ${req.action} on resource: ${req.resource} with an explicit deny in a resource-based policy`,
      );
    }
  }
}
