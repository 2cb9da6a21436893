// Paths inside the pods the operator creates: where it mounts things and the
// processes look for them.

/** Root of everything the operator mounts. */
export const CONFIG_DIR = '/etc/shardline';
/** Runtime pods: the key ring, a Secret directory with one file per key id (ENV.kmsKeysFile points here). */
export const KMS_KEYS_DIR = `${CONFIG_DIR}/kms-keys`;
/** Runtime pods: access keys, a Secret directory with one file per access key id (ENV.credentialsFile points here). */
export const CREDENTIALS_DIR = `${CONFIG_DIR}/credentials`;
/**
 * Worker pods: the worker configuration (workerConfig.ts), from a ConfigMap
 * mounted at WORKER_CONFIG_DIR (its own directory, so KMS_KEYS_DIR can be
 * mounted beside it rather than inside a ConfigMap volume).
 */
export const WORKER_CONFIG_DIR = `${CONFIG_DIR}/config`;
export const WORKER_CONFIG_KEY = 'config.json';
export const WORKER_CONFIG_FILE = `${WORKER_CONFIG_DIR}/${WORKER_CONFIG_KEY}`;
/** A writable scratch directory (the root filesystem is read-only). */
export const TMP_DIR = '/tmp';
/** Runtime pods: the HTTPS certificate Secret (tls.crt, tls.key), from DataStream spec.tls. */
export const TLS_DIR = `${CONFIG_DIR}/tls`;
/**
 * Runtime and worker pods: the NATS credentials Secret (--nats-auth-secret),
 * apart from CONFIG_DIR so it is never mounted inside another volume.
 */
export const NATS_AUTH_DIR = '/etc/shardline-nats';
