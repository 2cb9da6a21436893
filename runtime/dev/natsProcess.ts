// The nats-server of `shardline dev`, supervised: restarted when it crashes,
// and never left behind. It runs under a small sh watchdog holding the read
// end of a pipe from this process: when dev exits for any reason, SIGKILL
// included, the pipe reaches EOF and the watchdog stops nats-server (Node has
// no PR_SET_PDEATHSIG). Its log goes to <data dir>/nats.log; while JetStream
// restores its streams at start-up, progress is reported.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { natsPidFile } from './dataDirLock.js';

// $0 is nats-server, "$@" its arguments. fd 3 keeps our pipe; the reader is the
// only process holding it, so EOF means dev is gone (or asked for a stop).
const WATCHDOG = [
  'exec 3<&0',
  '"$0" "$@" </dev/null &',
  'n=$!',
  '{ read _ <&3; kill -TERM $n 2>/dev/null; } &',
  'w=$!',
  'wait $n; c=$?',
  'kill $w 2>/dev/null',
  'exit $c',
].join('\n');

export interface NatsOptions {
  bin: string;
  dataDir: string;
  port: number;
  log: (m: string) => void;
  /** Restarts allowed within `crashWindowMs` before giving up. */
  maxRestarts?: number;
  crashWindowMs?: number;
}

export class SupervisedNats {
  private proc?: ChildProcess;
  private stopping = false;
  private crashes: number[] = [];
  private restoring?: { total: number; done: number; messages: number };
  private readonly logStream: fs.WriteStream;
  readonly confFile: string;
  /** Set when nats-server crashed more often than allowed: dev gives up. */
  onFatal?: (e: Error) => void;

  constructor(private readonly o: NatsOptions) {
    fs.mkdirSync(path.join(o.dataDir, 'jetstream'), { recursive: true });
    this.confFile = path.join(o.dataDir, 'nats.conf');
    fs.writeFileSync(this.confFile, [
      `listen: 127.0.0.1:${o.port}`,
      'max_payload: 16MB',
      `pid_file: "${natsPidFile(o.dataDir)}"`,
      `jetstream { store_dir: "${path.join(o.dataDir, 'jetstream')}" }`,
    ].join('\n') + '\n');
    this.logStream = fs.createWriteStream(path.join(o.dataDir, 'nats.log'), { flags: 'a' });
  }

  get url(): string { return `nats://127.0.0.1:${this.o.port}`; }

  /** Starts nats-server and resolves once it accepts clients (after JetStream restored its streams). */
  async start(): Promise<void> {
    // nats-server keeps JetStream under <store_dir>/jetstream/<account>/streams.
    const streamsDir = path.join(this.o.dataDir, 'jetstream', 'jetstream', '$G', 'streams');
    const total = fs.existsSync(streamsDir) ? fs.readdirSync(streamsDir).length : 0;
    this.restoring = { total, done: 0, messages: 0 };
    const t0 = Date.now();
    // detached: its own process group, so the terminal's Ctrl-C reaches dev only,
    // and dev stops nats-server in order (after the runtime), not at the same time.
    const proc = spawn('sh', ['-c', WATCHDOG, this.o.bin, '-c', this.confFile], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.proc = proc;
    let tail = '';
    let partial = '';
    proc.stderr!.on('data', (d: Buffer) => {
      this.logStream.write(d);
      tail = (tail + d).slice(-2000);
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) this.onLogLine(l);
    });
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code, sig) => reject(new Error(`nats-server exited (${code ?? sig}) while starting: ${tail.trim().split('\n').slice(-3).join(' | ')}`))));
    exited.catch(() => undefined);
    let ticks = 0;
    const ticker = setInterval(() => {
      const r = this.restoring;
      ticks++;
      if (r && r.total > 0) this.o.log(`restoring JetStream: ${r.done}/${r.total} streams, ${r.messages.toLocaleString('en-US')} messages so far (${Math.round((Date.now() - t0) / 1000)} s)`);
      else if (ticks % 5 === 0) this.o.log(`waiting for nats-server to listen on ${this.o.port} (${Math.round((Date.now() - t0) / 1000)} s)`);
    }, 1000);
    try {
      // No deadline: a large store takes a minute or more to restore. Only nats-server exiting is a failure.
      await Promise.race([waitForPort(this.o.port, Infinity), exited]);
    } finally {
      clearInterval(ticker);
    }
    const r = this.restoring;
    if (r.total > 0) this.o.log(`JetStream restored: ${r.done} streams, ${r.messages.toLocaleString('en-US')} messages in ${Date.now() - t0} ms`);
    this.restoring = undefined;
    proc.once('exit', (code, sig) => { if (!this.stopping) void this.restart(code, sig); });
  }

  private onLogLine(line: string): void {
    const r = this.restoring;
    if (!r) return;
    const m = /Restored ([\d,]+) messages for stream/.exec(line);
    if (m) { r.done++; r.messages += Number(m[1]!.replace(/,/g, '')); }
  }

  private async restart(code: number | null, sig: NodeJS.Signals | null): Promise<void> {
    const now = Date.now();
    const windowMs = this.o.crashWindowMs ?? 60_000;
    this.crashes = [...this.crashes.filter((t) => now - t < windowMs), now];
    if (this.crashes.length > (this.o.maxRestarts ?? 5)) {
      this.onFatal?.(new Error(`nats-server crashed ${this.crashes.length} times within ${windowMs / 1000} s; giving up (see ${path.join(this.o.dataDir, 'nats.log')})`));
      return;
    }
    const delay = Math.min(5000, 250 * 2 ** (this.crashes.length - 1));
    this.o.log(`nats-server exited unexpectedly (${sig ?? `code ${code}`}); restarting in ${delay} ms`);
    await new Promise((r) => setTimeout(r, delay));
    if (this.stopping) return;
    try {
      await this.start();
      this.o.log('nats-server is back; clients reconnect on their own');
    } catch (e) {
      this.o.log(`restart failed: ${(e as Error).message}`);
      if (!this.stopping) void this.restart(null, null);
    }
  }

  /** From now on an exit of nats-server is expected: no restart. */
  beginStop(): void { this.stopping = true; }

  /** Graceful: closing the pipe makes the watchdog SIGTERM nats-server, which flushes and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.stdin!.end();
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    await new Promise((r) => this.logStream.end(r));
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
}
