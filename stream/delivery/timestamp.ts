// The part of Java's DateTimeFormatter that Firehose's !{timestamp:...}
// expressions use: pattern letters for date and time fields, quoted literals
// ('' is a quote), everything else copied. A pattern with a letter Java would
// reject here (or an unterminated quote) is invalid.

const FIELDS = new Set(['y', 'u', 'M', 'L', 'd', 'D', 'H', 'h', 'k', 'K', 'm', 's', 'S', 'a', 'E', 'e']);
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

type Token = { lit: string } | { field: string; width: number };

/** Parses a pattern; throws an Error naming the problem when Java would reject it. */
export function parseTimestampPattern(pattern: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        out.push({ lit: "'" });
        i += 2;
        continue;
      }
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`Pattern ends with an incomplete string literal: ${pattern}`);
      out.push({ lit: pattern.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      if (!FIELDS.has(c)) throw new Error(`Unknown pattern letter: ${c}`);
      let j = i;
      while (pattern[j] === c) j++;
      out.push({ field: c, width: j - i });
      i = j;
      continue;
    }
    if (c === '[' || c === ']' || c === '{' || c === '}' || c === '#') throw new Error(`Pattern includes reserved character: '${c}'`);
    out.push({ lit: c });
    i++;
  }
  return out;
}

export interface Parts { year: number; month: number; day: number; hour: number; minute: number; second: number; ms: number; weekday: number; dayOfYear: number }

const fmtCache = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of `ms` in `timeZone` (an IANA name; UTC when absent). */
export function partsIn(ms: number, timeZone = 'UTC'): Parts {
  let f = fmtCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    fmtCache.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const utcMidnight = Date.UTC(p.year!, p.month! - 1, p.day!);
  return {
    year: p.year!, month: p.month!, day: p.day!, hour: p.hour! % 24, minute: p.minute!, second: p.second!, ms: ms % 1000,
    weekday: new Date(utcMidnight).getUTCDay(),
    dayOfYear: Math.round((utcMidnight - Date.UTC(p.year!, 0, 1)) / 86_400_000) + 1,
  };
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function formatTimestamp(tokens: Token[], p: Parts): string {
  let s = '';
  for (const t of tokens) {
    if ('lit' in t) {
      s += t.lit;
      continue;
    }
    const w = t.width;
    switch (t.field) {
      case 'y':
      case 'u':
        s += w === 2 ? pad(p.year % 100, 2) : pad(p.year, w);
        break;
      case 'M':
      case 'L':
        s += w >= 4 ? MONTHS[p.month - 1] : w === 3 ? MONTHS[p.month - 1]!.slice(0, 3) : pad(p.month, w);
        break;
      case 'd': s += pad(p.day, w); break;
      case 'D': s += pad(p.dayOfYear, w); break;
      case 'H': s += pad(p.hour, w); break;
      case 'k': s += pad(p.hour === 0 ? 24 : p.hour, w); break;
      case 'h': s += pad(p.hour % 12 === 0 ? 12 : p.hour % 12, w); break;
      case 'K': s += pad(p.hour % 12, w); break;
      case 'm': s += pad(p.minute, w); break;
      case 's': s += pad(p.second, w); break;
      case 'S': s += pad(p.ms, 3).slice(0, w).padEnd(w, '0'); break;
      case 'a': s += p.hour < 12 ? 'AM' : 'PM'; break;
      case 'E':
      case 'e':
        s += w >= 4 ? DAYS[p.weekday] : DAYS[p.weekday]!.slice(0, 3);
        break;
    }
  }
  return s;
}
