// The request time a signature carries, and whether it is still acceptable.
// AWS allows 15 minutes of clock skew either way; a presigned request may
// instead name its own lifetime with X-Amz-Expires (at most seven days).
import { incompleteSignature, invalidSignature } from './errors.js';

const SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_S = 7 * 24 * 60 * 60;
const BASIC_FORMAT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** 20240101T000000Z, as signed and as AWS prints it in its messages. */
export function isoBasic(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

const badDate = (raw: string) =>
  incompleteSignature(`Date must be in ISO-8601 'basic format'. Got '${raw}'. See http://en.wikipedia.org/wiki/ISO_8601`);

/**
 * The signing time as X-Amz-Date basic format. A plain `Date` header (RFC
 * 1123, used only when X-Amz-Date is absent) is converted to it, as signers do.
 */
export function signingTime(raw: string, httpDate: boolean): { basic: string; date: Date } {
  if (httpDate) {
    const ms = Date.parse(raw);
    if (Number.isNaN(ms)) throw badDate(raw);
    const date = new Date(ms);
    return { basic: isoBasic(date), date };
  }
  const m = BASIC_FORMAT.exec(raw);
  if (!m) throw badDate(raw);
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  // Reject rollovers such as 20240231 that Date.UTC would silently accept.
  if (isoBasic(date) !== raw) throw badDate(raw);
  return { basic: raw, date };
}

/** Throws InvalidSignatureException with AWS's wording when `signed` is outside the allowed window. */
export function checkFreshness(signed: Date, now: Date, expires?: string): void {
  const at = isoBasic(signed);
  const later = new Date(now.getTime() + SKEW_MS);
  if (signed.getTime() > later.getTime()) {
    throw invalidSignature(
      `Signature not yet current: ${at} is still later than ${isoBasic(later)} (${isoBasic(now)} + 15 min.)`,
    );
  }
  if (expires !== undefined) {
    if (!/^\d+$/.test(expires) || Number(expires) > MAX_EXPIRES_S) {
      throw incompleteSignature(
        `X-Amz-Expires must be a whole number of seconds no greater than ${MAX_EXPIRES_S} (seven days). Got '${expires}'.`,
      );
    }
    const seconds = Number(expires);
    const earliest = new Date(now.getTime() - seconds * 1000);
    if (signed.getTime() < earliest.getTime()) {
      throw invalidSignature(
        `Signature expired: ${at} is now earlier than ${isoBasic(earliest)} (${isoBasic(now)} - ${seconds} sec.)`,
      );
    }
    return;
  }
  const earliest = new Date(now.getTime() - SKEW_MS);
  if (signed.getTime() < earliest.getTime()) {
    throw invalidSignature(
      `Signature expired: ${at} is now earlier than ${isoBasic(earliest)} (${isoBasic(now)} - 15 min.)`,
    );
  }
}
