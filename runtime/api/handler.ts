// One Kinesis API request, from bytes to bytes: framing checks in the order
// AWS applies them (method, content type, target, body, auth, validation),
// then the operation, then the answer in the request's wire format.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from '../http/server.js';
import { CONTENT_TYPES, decodeBody, encodeBody, wireOf, type Wire } from '../http/wire.js';
import { KinesisError, internalFailure, serializationError } from './errors.js';
import { storageRefusal } from '../../stream/errors.js';
import { isKnownOperation, validateRequest } from './validation/index.js';
import { verifyRequest, type CredentialStore } from '../auth/index.js';
import { OPERATIONS, STREAMING_OPERATIONS } from './operations.js';
import type { ApiContext } from './context.js';
import { enforceResourcePolicy } from './resourcePolicy.js';

const SERVICE = 'Kinesis_20131202';

export interface HandlerOptions {
  ctx: ApiContext;
  credentials: CredentialStore;
  /** Extra GET routes (health, metrics). */
  routes?: Record<string, (res: Response) => void | Promise<void>>;
  onError?: (op: string, err: unknown) => void;
}

function send(res: Response, status: number, body: Buffer | string, contentType?: string) {
  if (res.headersSent || res.writableEnded) return;
  if (contentType) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.statusCode = status;
  res.end(body);
}

function sendXmlError(res: Response, type: string, message: string, status = 403) {
  send(res, status, `<${type}>\n  <Message>${message}</Message>\n</${type}>\n`);
}

function sendError(res: Response, wire: Wire, e: KinesisError) {
  const body: Record<string, unknown> = { __type: e.type };
  if (e.message) body.message = e.message;
  send(res, e.statusCode, encodeBody(wire, body), CONTENT_TYPES[wire]);
}

/** Reads the body, or answers 413 once it passes `limit` bytes. */
function readBody(req: Request, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => !over && resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
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

export function kinesisHandler(opts: HandlerOptions) {
  const { ctx } = opts;
  return async (req: Request, res: Response): Promise<void> => {
    try {
      // `let`: released before the operation runs (see below).
      let body = await readBody(req, ctx.config.maxBodyBytes);
      res.setHeader('x-amzn-RequestId', randomUUID());
      res.setHeader('x-amz-id-2', requestId2());
      if (body === undefined) {
        send(res, 413, '');
        req.resume();
        return;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && opts.routes?.[path]) return void (await opts.routes[path]!(res));
      if (req.method !== 'POST') return sendXmlError(res, 'AccessDeniedException', 'Unable to determine service/operation name to be authorized');

      const wire = wireOf(req.headers['content-type'] as string | undefined);
      const [service, op] = String(req.headers['x-amz-target'] ?? '').split('.');
      const known = service === SERVICE && op !== undefined && isKnownOperation(op);
      if (body.length === 0) {
        const w: Wire = wire === 'json' ? 'json' : 'cbor';
        return sendError(res, w, new KinesisError(known ? 'SerializationException' : 'UnknownOperationException', ''));
      }
      if (wire === undefined || wire === 'aws-json') {
        if (!service || !op) return sendXmlError(res, 'AccessDeniedException', 'Unable to determine service/operation name to be authorized');
        return send(res, 404, '<UnknownOperationException/>\n');
      }
      let decoded = decodeBody(wire, body);
      if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return sendError(res, wire, serializationError(''));
      if (!known) return sendError(res, wire, new KinesisError('UnknownOperationException', ''));
      const impl = OPERATIONS[op!];
      const streaming = STREAMING_OPERATIONS[op!];
      try {
        const caller = verifyRequest({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers as Record<string, string>, body }, opts.credentials);
        const params = validateRequest(op!, decoded, wire);
        // V8 keeps an async function's dead locals alive across await: drop the
        // raw body and its parse tree (700 KB of base64 strings for 500 x 1 KB)
        // so they die young instead of being copied by every scavenge until the ack.
        decoded = undefined;
        body = undefined;
        if (!impl && !streaming) throw new KinesisError('UnknownOperationException', `Operation ${op} is not supported by this Shardline version yet.`);
        // Resource policies: explicit Deny statements for the caller's access key (AccessDeniedException).
        if (caller !== undefined) await enforceResourcePolicy(ctx, op!, params, caller);
        // Event-stream answers (SubscribeToShard) write their own response once it has started.
        if (streaming) return void (await streaming(ctx, params, { res, wire, onError: (e) => opts.onError?.(op!, e) }));
        const out = await impl!(ctx, params);
        send(res, 200, encodeBody(wire, out), CONTENT_TYPES[wire]);
      } catch (e) {
        if (e instanceof KinesisError) return sendError(res, wire, e);
        // The storage refused for want of resources (descriptors, limits): retryable, not a server fault.
        const refusal = storageRefusal(e);
        if (refusal) return sendError(res, wire, new KinesisError('LimitExceededException', `The storage is out of resources, retry later: ${refusal.detail}`));
        opts.onError?.(op!, e);
        sendError(res, wire, internalFailure());
      }
    } catch (e) {
      opts.onError?.('?', e);
      if (!res.headersSent) send(res, 500, '');
    }
  };
}
