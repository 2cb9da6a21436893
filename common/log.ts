// Structured logs for every Shardline process (runtime, operator, delivery and
// analytics workers): one JSON object per line on stderr, with the level as a
// word and a `component` field. It imports only contract/env.ts (names, zod),
// so any process folder can use it without import cycles.
//
//   SHARDLINE_LOG_LEVEL   trace | debug | info (default) | warn | error | fatal | silent
import pino, { type Logger } from 'pino';
import { ENV } from '../contract/env.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface LoggerOptions {
  level?: string;
  /** Where lines go; default stderr (stdout stays free for a command's own output). */
  write?: (line: string) => void;
}

/** A root logger for one process; `component` names it (runtime, operator, delivery, analytics, dev). */
export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env[ENV.logLevel] ?? 'info';
  const base = { component, pid: process.pid };
  const options = { level, base, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  if (opts.write) {
    const write = opts.write;
    return pino(options, { write: (line: string) => write(line.trimEnd()) });
  }
  // Asynchronous writes (sonic-boom) keep logging off the request path; pino
  // flushes what is buffered when the process exits.
  return pino(options, pino.destination({ dest: 2, sync: false }));
}

/**
 * Accepts what callers used to pass (a `(message) => void` function) or a
 * logger, and returns a logger: tests keep handing in a function and receive
 * the same JSON lines a deployment would.
 */
export function toLogger(component: string, log?: Logger | ((msg: string) => void)): Logger {
  if (log === undefined) return createLogger(component);
  if (typeof log === 'function') return createLogger(component, { write: log });
  return log;
}

/** One line for an error: its message and code, without the stack (which says nothing about a peer's fault). */
export function errorFields(e: unknown): { err: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? { err: e.message, code } : { err: e.message };
  }
  return { err: String(e) };
}
