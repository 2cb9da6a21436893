// How a Shardline process authenticates to NATS: user/password, token, NKey
// seed, or a creds file (JWT + seed), and TLS with a CA and a client
// certificate. From flags or env; on Kubernetes the operator mounts a Secret
// and points the *_FILE variables at it. Files are read at every (re)connect,
// so a rotated Secret is picked up without a restart.
//
// Used by the runtime, the operator, and the delivery/analytics workers
// (`NATS_AUTH_OPTIONS` for their CLI table, `natsAuthFromValues` + `natsConnectOptions`
// for connectStore's `connectOptions`).
import fs from 'node:fs';
import path from 'node:path';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type ConnectionOptions,
} from 'nats';
import { ENV } from '../contract/env.js';
import { text, type OptionSpec } from './options.js';

export interface NatsAuth {
  /** A directory (a mounted Secret) holding any of AUTH_DIR_FILES; explicit settings win. */
  authDir?: string;
  user?: string;
  password?: string;
  passwordFile?: string;
  token?: string;
  tokenFile?: string;
  nkeySeedFile?: string;
  credsFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * File names read from --nats-auth-dir (the keys of the Secret the operator
 * mounts). ca.crt/tls.crt/tls.key match a cert-manager Certificate's Secret.
 */
export const AUTH_DIR_FILES: Record<string, keyof NatsAuth> = {
  user: 'user',
  password: 'passwordFile',
  token: 'tokenFile',
  'nkey-seed': 'nkeySeedFile',
  'user.creds': 'credsFile',
  'ca.crt': 'tlsCa',
  'tls.crt': 'tlsCert',
  'tls.key': 'tlsKey',
};

export const NATS_AUTH_OPTIONS: OptionSpec[] = [
  { flag: '--nats-auth-dir <dir>', env: ENV.natsAuthDir, description: 'directory of NATS credential files: user, password, token, nkey-seed, user.creds, ca.crt, tls.crt, tls.key', parse: text },
  { flag: '--nats-user <name>', env: ENV.natsUser, description: 'NATS user name (with a password)', parse: text },
  { flag: '--nats-password <password>', env: ENV.natsPassword, description: 'NATS password (prefer --nats-password-file)', parse: text },
  { flag: '--nats-password-file <file>', env: ENV.natsPasswordFile, description: 'file holding the NATS password', parse: text },
  { flag: '--nats-token <token>', env: ENV.natsToken, description: 'NATS token (prefer --nats-token-file)', parse: text },
  { flag: '--nats-token-file <file>', env: ENV.natsTokenFile, description: 'file holding the NATS token', parse: text },
  { flag: '--nats-nkey-seed-file <file>', env: ENV.natsNkeySeedFile, description: 'file holding an NKey user seed (SU...)', parse: text },
  { flag: '--nats-creds-file <file>', env: ENV.natsCredsFile, description: 'NATS .creds file (user JWT and seed)', parse: text },
  { flag: '--nats-tls-ca <file>', env: ENV.natsTlsCa, description: 'CA bundle to verify the NATS server (turns TLS on)', parse: text },
  { flag: '--nats-tls-cert <file>', env: ENV.natsTlsCert, description: 'client certificate for NATS mutual TLS', parse: text },
  { flag: '--nats-tls-key <file>', env: ENV.natsTlsKey, description: 'private key of the client certificate', parse: text },
];

const readTrimmed = (file: string) => fs.readFileSync(file, 'utf8').trim();

/** Throws a one-line Error when the combination is unusable (two methods, a missing file). */
export function natsConnectOptions(given: NatsAuth): Partial<ConnectionOptions> {
  const a = withAuthDir(given);
  const methods = [
    a.user !== undefined && 'user/password',
    (a.token ?? a.tokenFile) !== undefined && 'token',
    a.nkeySeedFile !== undefined && 'nkey',
    a.credsFile !== undefined && 'creds',
  ].filter(Boolean);
  if (methods.length > 1) throw new Error(`NATS authentication: choose one of ${methods.join(', ')}`);
  if ((a.password ?? a.passwordFile) !== undefined && a.user === undefined) throw new Error('NATS authentication: a password needs --nats-user');
  for (const f of [a.passwordFile, a.tokenFile, a.nkeySeedFile, a.credsFile, a.tlsCa, a.tlsCert, a.tlsKey]) {
    if (f !== undefined && !fs.existsSync(f)) throw new Error(`NATS authentication: ${f} does not exist`);
  }
  if ((a.tlsCert === undefined) !== (a.tlsKey === undefined)) throw new Error('NATS TLS: --nats-tls-cert and --nats-tls-key go together');
  const out: Partial<ConnectionOptions> = {};
  // Authenticators run at every (re)connect: reading files there follows Secret rotation.
  let auth: Authenticator | undefined;
  if (a.user !== undefined) {
    const user = a.user;
    auth = (nonce) => usernamePasswordAuthenticator(user, a.passwordFile ? readTrimmed(a.passwordFile) : a.password)(nonce);
  } else if (a.tokenFile !== undefined || a.token !== undefined) {
    auth = (nonce) => tokenAuthenticator(a.tokenFile ? readTrimmed(a.tokenFile) : a.token!)(nonce);
  } else if (a.nkeySeedFile !== undefined) {
    const file = a.nkeySeedFile;
    auth = (nonce) => nkeyAuthenticator(new TextEncoder().encode(readTrimmed(file)))(nonce);
  } else if (a.credsFile !== undefined) {
    const file = a.credsFile;
    auth = (nonce) => credsAuthenticator(fs.readFileSync(file))(nonce);
  }
  if (auth) out.authenticator = auth;
  if (a.tlsCa !== undefined || a.tlsCert !== undefined) {
    out.tls = { ...(a.tlsCa ? { caFile: a.tlsCa } : {}), ...(a.tlsCert ? { certFile: a.tlsCert, keyFile: a.tlsKey } : {}) };
  }
  return out;
}

/** Fills what `authDir` holds into the settings not given explicitly. */
function withAuthDir(given: NatsAuth): NatsAuth {
  if (!given.authDir) return given;
  if (!fs.existsSync(given.authDir)) throw new Error(`NATS authentication: ${given.authDir} does not exist`);
  const out: NatsAuth = { ...given };
  for (const [file, field] of Object.entries(AUTH_DIR_FILES)) {
    const p = path.join(given.authDir, file);
    if (out[field] !== undefined || !fs.existsSync(p)) continue;
    out[field] = field === 'user' ? readTrimmed(p) : p;
  }
  return out;
}

/** The NatsAuth fields from option values keyed by attribute name (common/options.ts). */
export function natsAuthFromValues(v: Record<string, any>): NatsAuth {
  return {
    authDir: v.natsAuthDir, user: v.natsUser, password: v.natsPassword, passwordFile: v.natsPasswordFile, token: v.natsToken,
    tokenFile: v.natsTokenFile, nkeySeedFile: v.natsNkeySeedFile, credsFile: v.natsCredsFile, tlsCa: v.natsTlsCa, tlsCert: v.natsTlsCert, tlsKey: v.natsTlsKey,
  };
}
