// Command-line options that also come from the environment, declared once as a
// table: the CLI (commander) registers them, and the same parser checks a flag
// and an env value, so `--port abc` and `SHARDLINE_PORT=abc` fail alike, in
// one line that names the valid forms.
import { InvalidArgumentError, Option, type Command } from 'commander';

export interface OptionSpec<T = unknown> {
  /** Commander flag spelling, e.g. `--port <n>`. */
  flag: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  description: string;
  parse: (raw: string) => T;
  default?: T;
}

export class OptionValueError extends Error {}

/** Turns a flag spelling into commander's attribute name: `--nats-tls-ca <file>` → natsTlsCa. */
export function attributeOf(flag: string): string {
  const long = flag.split(/[ ,]+/).find((p) => p.startsWith('--'))!.slice(2);
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export const integer = (min: number, max: number, what = 'an integer') => (raw: string): number => {
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${what} from ${min} to ${max}`);
  return n;
};

export const port = integer(0, 65535, 'a port number');

export const boolean = (raw: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new InvalidArgumentError('expected true or false');
};

export const text = (raw: string): string => raw;

export const oneOf = (values: readonly string[]) => (raw: string): string => {
  if (!values.includes(raw)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
  return raw;
};

/** Registers the specs on a commander command (help text shows env and default). */
export function addOptions(cmd: Command, specs: OptionSpec[]): Command {
  for (const s of specs) {
    const o = new Option(s.flag, s.description + (s.env ? ` (env ${s.env})` : ''));
    // Variadic flags (`<paths...>`) keep commander's own collecting of values.
    if (!s.flag.includes('...')) o.argParser((v) => s.parse(v));
    if (s.default !== undefined) o.default(s.default);
    cmd.addOption(o);
  }
  return cmd;
}

/**
 * Values by attribute name: the flag when given (already parsed by commander),
 * else the env variable (parsed here), else the default. A bad env value
 * throws OptionValueError with one line naming the variable and valid forms.
 */
export function resolveOptions(specs: OptionSpec[], flags: Record<string, unknown>, cmd?: Command, env = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of specs) {
    const key = attributeOf(s.flag);
    const fromCli = cmd ? cmd.getOptionValueSource(key) === 'cli' : flags[key] !== undefined && flags[key] !== s.default;
    if (fromCli) out[key] = flags[key];
    else if (s.env && env[s.env] !== undefined && env[s.env] !== '') {
      try {
        out[key] = s.parse(env[s.env]!);
      } catch (e) {
        throw new OptionValueError(`${s.env}: '${env[s.env]}' is invalid: ${(e as Error).message}`);
      }
    } else out[key] = s.default;
  }
  return out;
}
