// The async compressors (deflate on the thread pool, output buffers sized to
// the input) write the same bytes as the synchronous ones, whatever the input
// size and compressibility: a flush replayed after a crash must overwrite its
// object with identical bytes. And partitionBody lays records and delimiters
// out as a plain concatenation would, also into a lent scratch buffer, which
// two flushes in progress never share.
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { compress, compressAsync, decompress } from '../../stream/delivery/compress.js';
import { partitionBody, partitionBodySize } from '../../runtime/delivery/processing.js';
import { withScratch } from '../../runtime/delivery/scratch.js';

const json = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => JSON.stringify({ i, user: `u${i % 97}`, path: `/p/${i % 13}`, msg: 'x'.repeat(i % 700) }) + '\n').join(''));

describe('compressAsync', () => {
  const inputs: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('a')],
    ['3 MB of JSON lines', json(8000)],
    ['2 MB incompressible (output larger than the output buffer)', randomBytes(2 * 1024 * 1024)],
  ];
  test.each(inputs)('GZIP and ZIP: %s, the same bytes as compress()', async (_, body) => {
    for (const format of ['GZIP', 'ZIP'] as const) {
      const a = await compressAsync(format, body, 'entry.json');
      expect(a.equals(compress(format, body, 'entry.json'))).toBe(true);
      expect(decompress(format, a).equals(body)).toBe(true);
    }
    // An independent decoder reads it back.
    expect(zlib.gunzipSync(await compressAsync('GZIP', body, 'x')).equals(body)).toBe(true);
  });
});

describe('partitionBody', () => {
  const records = [Buffer.from('{"a":1}'), Buffer.alloc(0), Buffer.from('ü€'), randomBytes(5000)].map((data) => ({ data, arrivalMs: 0 }));
  test.each([
    ['no delimiter', undefined],
    ['a newline', Buffer.from('\n')],
    ['a two-byte delimiter', Buffer.from('\r\n')],
  ] as const)('%s: records and delimiters concatenated', (_, delimiter) => {
    const expected = Buffer.concat(records.flatMap((r) => (delimiter ? [r.data, delimiter] : [r.data])));
    const p = { keys: {}, records, delimiter };
    expect(partitionBody(p).equals(expected)).toBe(true);
    expect(partitionBodySize(p)).toBe(expected.length);
    const into = Buffer.alloc(expected.length, 0xee);
    expect(partitionBody(p, into).equals(expected)).toBe(true);
  });
});

describe('withScratch', () => {
  test('concurrent flushes get distinct buffers of the size asked; a returned one is lent again', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const seen: ArrayBufferLike[] = [];
    const first = withScratch(3_000_000, async (b) => {
      expect(b.length).toBe(3_000_000);
      seen.push(b.buffer);
      b.fill(1);
      await held;
      // Nobody else wrote into it while it was lent.
      expect(b.every((x) => x === 1)).toBe(true);
    });
    await withScratch(2_000_000, async (b) => {
      expect(b.length).toBe(2_000_000);
      expect(b.buffer).not.toBe(seen[0]);
      seen.push(b.buffer);
      b.fill(2);
    });
    release();
    await first;
    await withScratch(3_000_000, async (b) => void seen.push(b.buffer));
    // The first one is lent again (the second is too small for 3 MB).
    expect(seen[2]).toBe(seen[0]);
  });

  test('a body larger than the kept sizes is allocated for the call', async () => {
    await withScratch(40 * 1024 * 1024, async (b) => expect(b.length).toBe(40 * 1024 * 1024));
  });
});
