// HTTPS certificate for the Kinesis endpoint, from PEM files (on Kubernetes a
// mounted Secret, e.g. one cert-manager renews). The files are polled once a
// second and a changed pair becomes the context for new connections; a pair
// that does not load (half-written, key and cert not matching) is logged and
// the previous one kept.
import fs from 'node:fs';
import tls from 'node:tls';
import type { Logger } from '../../common/log.js';
import type { CertificatePair } from './server.js';

export interface TlsSource {
  current(): CertificatePair;
  onChange(cb: (pair: CertificatePair) => void): void;
  stop(): void;
}

/** Reads the pair and checks it loads (key matches certificate) before it is used. */
function load(certFile: string, keyFile: string): CertificatePair {
  const pair = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
  tls.createSecureContext(pair);
  return pair;
}

export function loadTls(config: { tlsCertFile?: string; tlsKeyFile?: string }, logger: Logger, pollMs = 1000): TlsSource | undefined {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = config;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error('TLS needs both --tls-cert and --tls-key');
  let current = load(certFile, keyFile);
  const listeners: ((pair: CertificatePair) => void)[] = [];
  const reload = () => {
    try {
      current = load(certFile, keyFile);
      for (const l of listeners) l(current);
      logger.info({ certFile }, 'TLS certificate reloaded');
    } catch (e) {
      logger.warn({ certFile, err: (e as Error).message }, 'TLS certificate not reloaded; keeping the previous one');
    }
  };
  const onStat = (now: fs.Stats, before: fs.Stats) => {
    if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) reload();
  };
  fs.watchFile(certFile, { interval: pollMs, persistent: false }, onStat);
  fs.watchFile(keyFile, { interval: pollMs, persistent: false }, onStat);
  return {
    current: () => current,
    onChange: (cb) => void listeners.push(cb),
    stop() {
      fs.unwatchFile(certFile, onStat);
      fs.unwatchFile(keyFile, onStat);
    },
  };
}
