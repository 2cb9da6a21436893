// SigV4 authentication for the Kinesis endpoint: what the HTTP layer imports.
export { verifyRequest, type SignedRequest } from './sigv4.js';
export {
  loadCredentialStore,
  createCredentialStore,
  credentialOptionsFromEnv,
  type CredentialStore,
} from './credentials.js';
export {
  missingAuthenticationToken,
  incompleteSignature,
  invalidSignature,
  unrecognizedClient,
  SIGNATURE_MISMATCH_MESSAGE,
} from './errors.js';
