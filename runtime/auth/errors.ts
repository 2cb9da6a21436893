// Errors the SigV4 verifier raises, with the `__type` names and wording AWS's
// JSON-protocol services (Kinesis, DynamoDB: the "Coral" front end) return.
// Every one is HTTP 400 there, unlike the 403 of S3 and the REST services.
// They live here, not in runtime/api/errors.ts, so auth owns its own texts.
import { KinesisError } from '../api/errors.js';

export const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** No Authorization header and no X-Amz-Algorithm query parameter (or a non-AWS4 scheme). */
export const missingAuthenticationToken = () =>
  new KinesisError('MissingAuthenticationTokenException', 'Missing Authentication Token');

/** The signature's parts are missing or unparseable. */
export const incompleteSignature = (message: string) => new KinesisError('IncompleteSignatureException', message);

/** Well-formed but wrong: bad scope, expired date, unsigned Host, or a mismatching signature. */
export const invalidSignature = (message: string = SIGNATURE_MISMATCH_MESSAGE) =>
  new KinesisError('InvalidSignatureException', message);

/** The access key id is not one we know. */
export const unrecognizedClient = () =>
  new KinesisError('UnrecognizedClientException', 'The security token included in the request is invalid.');
