// One Kinesis API request, from bytes to bytes: framing checks in the order
// AWS applies them (method, content type, target, body, auth, validation),
// then the operation, then the answer in the request's wire format.
import { randomBytes, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { Request, Response } from '../http/server.js';
import { CONTENT_TYPES, decodeBody, encodeBody, wireOf, type Wire } from '../http/wire.js';
import { KinesisError, internalFailure, serializationError } from './errors.js';
import { isKnownOperation, validateRequest } from './validation/index.js';
import { verifyRequest, type CredentialStore } from '../auth/index.js';
import { OPERATIONS, STREAMING_OPERATIONS } from './operations.js';
import type { ApiContext } from './context.js';
import { enforceResourcePolicy } from './resourcePolicy.js';
import { precheckRequest } from '../auth/precheck.js';
import { readBody, type BodyBudget } from '../http/body.js';
import { streamLabel, type RequestRecord } from './requestRecord.js';
import { applyCors } from '../http/cors.js';
import { SERVICES } from './services.js';

const SERVICE = 'Kinesis_20131202';

export interface HandlerOptions {
  ctx: ApiContext;
  credentials: CredentialStore;
  /** Extra GET routes (health, metrics). */
  routes?: Record<string, (res: Response) => void | Promise<void>>;
  onError?: (op: string, err: unknown) => void;
  /** Shared by every request of the process (runtime/http/body.ts). */
  bodyBudget: BodyBudget;
  /** Whole-body deadline. */
  bodyTimeoutMs: number;
  /** Called once per request when its response is done or the client went away (access log, metrics). */
  onDone?: (r: RequestRecord) => void;
}

function send(res: Response, status: number, body: Buffer | string, contentType?: string) {
  if (res.headersSent || res.writableEnded) return;
  if (contentType) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.statusCode = status;
  res.end(body);
}

function sendXmlError(res: Response, type: string, message: string, status = 403, rec?: RequestRecord) {
  if (rec) rec.errorType = type;
  send(res, status, `<${type}>\n  <Message>${message}</Message>\n</${type}>\n`);
}

function sendError(res: Response, wire: Wire, e: KinesisError, rec?: RequestRecord) {
  if (rec) rec.errorType = e.type;
  const body: Record<string, unknown> = { __type: e.type };
  if (e.message) body.message = e.message;
  send(res, e.statusCode, encodeBody(wire, body), CONTENT_TYPES[wire]);
}

// x-amz-id-2 is 72 random bytes per request: taken from a pooled block of
// crypto randomness rather than one RNG call each.
let idPool = Buffer.alloc(0);
let idAt = 0;

function requestId2(): string {
  if (idAt + 72 > idPool.length) {
    idPool = randomBytes(72 * 64);
    idAt = 0;
  }
  const id = idPool.toString('base64', idAt, idAt + 72);
  idAt += 72;
  return id;
}

const isH2 = (req: Request): req is http2.Http2ServerRequest => 'stream' in req;

/**
 * Answers before (or instead of) reading the rest of the body: HTTP/1.1 closes
 * the connection after the answer, h2 resets the stream (RFC 9113 §8.1: a
 * complete response may precede the request's end; the stream is then reset
 * with NO_ERROR).
 */
function stopReading(req: Request, res: Response): void {
  if (isH2(req)) {
    res.once('finish', () => {
      if (!req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  } else if (!res.headersSent) {
    res.setHeader('Connection', 'close');
  }
}

export function kinesisHandler(opts: HandlerOptions) {
  const { ctx } = opts;
  return async (req: Request, res: Response): Promise<void> => {
    const rec: RequestRecord = { requestId: randomUUID(), startedAt: process.hrtime.bigint(), status: 0 };
    res.setHeader('x-amzn-RequestId', rec.requestId);
    // A browser's preflight is answered before any other check (no x-amz-id-2 there, as on AWS).
    if (applyCors(req, res)) {
      req.resume();
      return;
    }
    res.setHeader('x-amz-id-2', requestId2());
    res.once('close', () => {
      rec.status = res.writableFinished ? res.statusCode : 0;
      // The connection closed before the answer was complete: the client went away.
      if (rec.status === 0) rec.errorType ??= 'ClientAborted';
      opts.onDone?.(rec);
    });
    let release = () => undefined as void;
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && opts.routes?.[path]) {
        rec.operation = `GET ${path}`;
        req.resume();
        return void (await opts.routes[path]!(res));
      }
      const [service, op] = String(req.headers['x-amz-target'] ?? '').split('.');
      // Other services on this endpoint (services.ts) bring their own operation table.
      const other = service !== SERVICE && service !== undefined && Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
      const known = op !== undefined && (other ? Object.hasOwn(other, op) : service === SERVICE && isKnownOperation(op));
      if (known) rec.operation = op;
      const wire = wireOf(req.headers['content-type'] as string | undefined);
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > ctx.config.maxBodyBytes) {
        stopReading(req, res);
        return send(res, 413, '');
      }
      // Auth failures that need no body are answered before reading it, once
      // the header-level checks that AWS makes first have passed.
      if (req.method === 'POST' && known && (wire === 'json' || wire === 'cbor')) {
        const early = precheckRequest({ method: 'POST', path: req.url ?? '/', headers: req.headers as Record<string, string> }, opts.credentials);
        if (early) {
          stopReading(req, res);
          return sendError(res, wire, early, rec);
        }
      }
      const reading = readBody(req, { maxBytes: ctx.config.maxBodyBytes, timeoutMs: opts.bodyTimeoutMs, budget: opts.bodyBudget });
      release = reading.release;
      const got = await reading.result;
      // `let`: released before the operation runs (see below).
      let body: Buffer | undefined;
      switch (got.kind) {
        case 'ok':
          body = got.body;
          break;
        case 'too-large':
          stopReading(req, res);
          return send(res, 413, '');
        case 'timeout':
          rec.errorType = 'RequestTimeout';
          stopReading(req, res);
          return send(res, 408, '');
        case 'aborted':
          rec.errorType = 'ClientAborted';
          return;
        case 'over-budget':
          stopReading(req, res);
          return sendError(
            res,
            wire === 'cbor' ? 'cbor' : 'json',
            new KinesisError('LimitExceededException', 'Too many request bytes are in flight on this endpoint; retry with backoff.'),
            rec,
          );
      }
      if (req.method !== 'POST') return sendXmlError(res, 'AccessDeniedException', 'Unable to determine service/operation name to be authorized', 403, rec);

      if (body.length === 0) {
        const w: Wire = wire === 'json' ? 'json' : 'cbor';
        return sendError(res, w, new KinesisError(known ? 'SerializationException' : 'UnknownOperationException', ''), rec);
      }
      if (wire === undefined || wire === 'aws-json') {
        if (!service || !op) return sendXmlError(res, 'AccessDeniedException', 'Unable to determine service/operation name to be authorized', 403, rec);
        return send(res, 404, '<UnknownOperationException/>\n');
      }
      let decoded = decodeBody(wire, body);
      if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return sendError(res, wire, serializationError(''), rec);
      if (!known) return sendError(res, wire, new KinesisError('UnknownOperationException', ''), rec);
      const impl = other ? other[op!] : OPERATIONS[op!];
      const streaming = other ? undefined : STREAMING_OPERATIONS[op!];
      try {
        const caller = verifyRequest({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers as Record<string, string>, body }, opts.credentials);
        rec.accessKeyId = caller;
        const params = other ? (decoded as Record<string, unknown>) : validateRequest(op!, decoded, wire);
        rec.stream = streamLabel(params);
        // V8 keeps an async function's dead locals alive across await: drop the
        // raw body and its parse tree (700 KB of base64 strings for 500 x 1 KB)
        // so they die young instead of being copied by every scavenge until the ack.
        decoded = undefined;
        body = undefined;
        if (!impl && !streaming) throw new KinesisError('UnknownOperationException', `Operation ${op} is not supported by this Shardline version yet.`);
        // Resource policies: explicit Deny statements for the caller's access key (AccessDeniedException).
        if (caller !== undefined && !other) await enforceResourcePolicy(ctx, op!, params, caller);
        // Event-stream answers (SubscribeToShard) write their own response once it has started.
        if (streaming) {
          release();
          return void (await streaming(ctx, params, { res, wire, onError: (e) => opts.onError?.(op!, e) }));
        }
        const out = await impl!(ctx, params);
        // Operations without an output shape answer with an empty body, as AWS does.
        send(res, 200, out === undefined ? '' : encodeBody(wire, out), CONTENT_TYPES[wire]);
      } catch (e) {
        if (e instanceof KinesisError) return sendError(res, wire, e, rec);
        opts.onError?.(op!, e);
        sendError(res, wire, internalFailure(), rec);
      }
    } catch (e) {
      opts.onError?.(rec.operation ?? '?', e);
      if (!res.headersSent) send(res, 500, '');
    } finally {
      release();
    }
  };
}
