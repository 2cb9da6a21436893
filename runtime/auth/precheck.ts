// What SigV4 can decide before the body is read: is there a signature at all,
// is it well formed, is its time within the allowed skew, is the access key
// one we know. A request failing any of these is answered without reading
// (or buffering) its body, so unauthenticated clients cannot spend the body
// memory budget. Only the payload hash needs the body, so the check is the
// full verification against an empty body: a signature mismatch means every
// earlier check passed and the verdict waits for the real body.
import { KinesisError } from '../api/errors.js';
import { SIGNATURE_MISMATCH_MESSAGE } from './errors.js';
import type { CredentialStore } from './credentials.js';
import { verifyRequest } from './sigv4.js';

const EMPTY = Buffer.alloc(0);

/** The error to answer without reading the body, or undefined when the body must decide. */
export function precheckRequest(
  req: { method: string; path: string; headers: Record<string, string | string[] | undefined> },
  store: CredentialStore,
): KinesisError | undefined {
  if (!store.enabled) return undefined;
  try {
    verifyRequest({ ...req, body: EMPTY }, store);
    return undefined;
  } catch (e) {
    if (!(e instanceof KinesisError)) return undefined;
    if (e.type === 'InvalidSignatureException' && e.message === SIGNATURE_MISMATCH_MESSAGE) return undefined;
    return e;
  }
}
