// The stream record's key history (stream/streamEncryption.ts): which key ids
// a stream sealed with, kept until their records are past retention, and who
// may use the kept materials of those ids. Pure unit test.
import { randomBytes } from 'node:crypto';
import { keptKeyGrant, nextKeyHistory } from '../../stream/streamEncryption.js';
import { KeyRing } from '../../stream/keyring.js';
import type { StreamRecord } from '../../stream/streamRecord.js';

const HOUR = 3_600_000;
const rec = (encryption: StreamRecord['encryption'], keyHistory?: StreamRecord['keyHistory']): StreamRecord => ({
  name: 's', uid: 'u', status: 'ACTIVE', mode: 'PROVISIONED', createdAtMs: 0, retentionHours: 24, replicas: 1, shards: [],
  nextShardIndex: 0, tags: {}, encryption, enhancedMonitoring: [], maxRecordSizeKiB: 1024, ...(keyHistory ? { keyHistory } : {}),
});

test('the key a stream stops sealing with joins the history; ids past retention (plus a margin) leave it', () => {
  const t = 100 * HOUR;
  expect(nextKeyHistory(rec({ type: 'NONE' }), { type: 'KMS', keyId: 'a' }, t)).toBeUndefined();
  expect(nextKeyHistory(rec({ type: 'KMS', keyId: 'a' }), { type: 'KMS', keyId: 'b' }, t)).toEqual([{ keyId: 'a', replacedAtMs: t }]);
  expect(nextKeyHistory(rec({ type: 'KMS', keyId: 'a' }), { type: 'NONE' }, t)).toEqual([{ keyId: 'a', replacedAtMs: t }]);
  // Back to an earlier key: it leaves the history (it is current again), the one replaced joins.
  expect(nextKeyHistory(rec({ type: 'KMS', keyId: 'b' }, [{ keyId: 'a', replacedAtMs: t - HOUR }]), { type: 'KMS', keyId: 'a' }, t))
    .toEqual([{ keyId: 'b', replacedAtMs: t }]);
  // 24 h retention: replaced 24 h ago is still needed (margin); 26 h ago is not.
  const old = [{ keyId: 'x', replacedAtMs: t - 24 * HOUR }, { keyId: 'y', replacedAtMs: t - 26 * HOUR }];
  expect(nextKeyHistory(rec({ type: 'KMS', keyId: 'b' }, old), { type: 'KMS', keyId: 'c' }, t))
    .toEqual([{ keyId: 'x', replacedAtMs: t - 24 * HOUR }, { keyId: 'b', replacedAtMs: t }]);
});

test("a reader may use the kept materials of a stream's key ids only when it holds one of them, or the stream is unencrypted now", () => {
  const b64 = () => randomBytes(32).toString('base64');
  const holdsNew = new KeyRing({ inline: `new:${b64()}` });
  const stranger = new KeyRing({ inline: `other:${b64()}` });
  const swapped = rec({ type: 'KMS', keyId: 'new' }, [{ keyId: 'old', replacedAtMs: 1 }]);
  expect([...keptKeyGrant(holdsNew, swapped)].sort()).toEqual(['new', 'old']);
  expect([...keptKeyGrant(stranger, swapped)]).toEqual([]);
  const stopped = rec({ type: 'NONE' }, [{ keyId: 'old', replacedAtMs: 1 }]);
  expect([...keptKeyGrant(stranger, stopped)]).toEqual(['old']);
  expect([...keptKeyGrant(stranger, rec({ type: 'NONE' }))]).toEqual([]);
});
