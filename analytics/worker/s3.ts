// Reference data objects fetched from S3 (MinIO in a cluster, s3rver in tests).
import type { ReferenceLoader } from './references.js';
import { parseReference } from './references.js';

export function s3ReferenceLoader(endpoint: string | undefined): ReferenceLoader {
  return async (refs) => {
    if (!endpoint) throw new Error('reference data needs an S3 endpoint (s3Endpoint in the worker config)');
    const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1',
      credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER' },
    });
    try {
      const out = [];
      for (const ref of refs) {
        const obj = await s3.send(new GetObjectCommand({ Bucket: ref.s3.bucket, Key: ref.s3.key }));
        const body = Buffer.from(await obj.Body!.transformToByteArray());
        out.push(parseReference(ref, body));
      }
      return out;
    } finally {
      s3.destroy();
    }
  };
}
