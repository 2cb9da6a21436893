// Constraint checking (ValidationException). Runs on already type-checked
// params and collects every violation, as Kinesis does, in member order and
// per member in a fixed check order; Kinesis stops listing after ten.

import type { Members, Shape } from './types.js';

const MAX_ERRORS = 10;

export function checkConstraints(params: Record<string, unknown>, members: Members): string[] {
  // Nearly every request is valid: a check that builds no paths or messages
  // answers that; the reporting walk below runs only to list what is wrong.
  if (membersValid(params, members)) return [];
  const errors: string[] = [];
  checkMembers(params, members, '', errors);
  return errors;
}

// ---- The fast path: true exactly when check() would report nothing. ----

function membersValid(data: Record<string, unknown>, members: Members): boolean {
  for (const name in members) {
    if (!valid(data[name], members[name]!)) return false;
  }
  return true;
}

function valid(value: unknown, shape: Shape): boolean {
  if (value == null) return !shape.notNull;
  if (shape.min != null && (value as number) < shape.min) return false;
  if (shape.max != null && (value as number) > shape.max) return false;
  if (shape.pattern != null && !fullMatch(shape.pattern, value as string)) return false;
  if (shape.minLength != null && lengthOf(value) < shape.minLength) return false;
  if (shape.maxLength != null && lengthOf(value) > shape.maxLength) return false;
  if (shape.enum && !shape.enum.includes(value as string)) return false;
  if (shape.type === 'List') return listValid(value as unknown[], shape);
  if (shape.type === 'Map') return mapValid(value as Record<string, unknown>, shape);
  if (shape.type === 'Structure' && shape.members) return membersValid(value as Record<string, unknown>, shape.members);
  return true;
}

function listValid(list: unknown[], shape: Shape): boolean {
  const [lo, hi] = shape.memberLengths ?? [];
  if (lo != null && hi != null && !list.every((s) => typeof s === 'string' && s.length >= lo && s.length <= hi)) return false;
  const allowed = shape.memberEnum;
  if (allowed && !list.every((s) => allowed.includes(s as string))) return false;
  const member = shape.member;
  if (member?.type === 'Structure') {
    for (let i = 0; i < list.length; i++) {
      if (!(i in list)) continue; // as forEach: holes are not visited
      const item = list[i];
      // Members of a list are required (check() is given notNull: true).
      if (item == null || !valid(item, member)) return false;
    }
  }
  return true;
}

function mapValid(map: Record<string, unknown>, shape: Shape): boolean {
  const keys = Object.keys(map);
  if (shape.keyLengths) {
    const [lo, hi] = shape.keyLengths;
    if (!keys.every((k) => k.length >= lo && k.length <= hi)) return false;
  }
  if (shape.valueLengths) {
    const [lo, hi] = shape.valueLengths;
    if (!keys.every((k) => typeof map[k] === 'string' && (map[k] as string).length >= lo && (map[k] as string).length <= hi)) return false;
  }
  return true;
}

// ---- The reporting walk. ----

function checkMembers(data: Record<string, unknown>, members: Members, parent: string, errors: string[]) {
  for (const [name, shape] of Object.entries(members)) {
    check(data[name], shape, join(parent, lowerFirst(name)), errors);
  }
}

function check(value: unknown, shape: Shape, path: string, errors: string[]) {
  const fail = (message: string) => {
    if (errors.length < MAX_ERRORS) errors.push(violation(value, shape, path, message));
  };
  if (value == null) {
    if (shape.notNull) fail('Member must not be null');
    return;
  }
  if (shape.min != null && (value as number) < shape.min) {
    fail(`Member must have value greater than or equal to ${shape.min}`);
  }
  if (shape.max != null && (value as number) > shape.max) {
    fail(`Member must have value less than or equal to ${shape.max}`);
  }
  if (shape.pattern != null && !fullMatch(shape.pattern, value as string)) {
    fail(`Member must satisfy regular expression pattern: ${shape.pattern}`);
  }
  if (shape.minLength != null && lengthOf(value) < shape.minLength) {
    fail(`Member must have length greater than or equal to ${shape.minLength}`);
  }
  if (shape.maxLength != null && lengthOf(value) > shape.maxLength) {
    fail(`Member must have length less than or equal to ${shape.maxLength}`);
  }
  if (shape.enum && !shape.enum.includes(value as string)) {
    fail(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
  }
  if (shape.type === 'List') checkList(value as unknown[], shape, path, fail, errors);
  if (shape.type === 'Map') checkMap(value as Record<string, unknown>, shape, fail);
  if (shape.type === 'Structure' && shape.members) {
    checkMembers(value as Record<string, unknown>, shape.members, path, errors);
  }
}

function checkList(list: unknown[], shape: Shape, path: string, fail: (m: string) => void, errors: string[]) {
  // Constraints on string members are reported once, against the whole list.
  const [lo, hi] = shape.memberLengths ?? [];
  if (lo != null && hi != null && !list.every((s) => typeof s === 'string' && s.length >= lo && s.length <= hi)) {
    fail(`Member must satisfy constraint: [${lengthPair(lo, hi)}]`);
  }
  const allowed = shape.memberEnum;
  if (allowed && !list.every((s) => allowed.includes(s as string))) {
    fail(`Member must satisfy constraint: [Member must satisfy enum value set: [${allowed.join(', ')}]]`);
  }
  // Structure members are checked one by one, at '<list>.<n>.member'.
  if (shape.member?.type === 'Structure') {
    const member: Shape = { ...shape.member, notNull: true };
    list.forEach((item, i) => check(item, member, `${path}.${i + 1}.member`, errors));
  }
}

function checkMap(map: Record<string, unknown>, shape: Shape, fail: (m: string) => void) {
  const keys = Object.keys(map);
  if (shape.keyLengths) {
    const [lo, hi] = shape.keyLengths;
    if (!keys.every((k) => k.length >= lo && k.length <= hi)) {
      fail(`Map keys must satisfy constraint: [${lengthPair(lo, hi)}]`);
    }
  }
  if (shape.valueLengths) {
    const [lo, hi] = shape.valueLengths;
    const ok = (v: unknown) => typeof v === 'string' && v.length >= lo && v.length <= hi;
    if (!keys.every((k) => ok(map[k]))) fail(`Map value must satisfy constraint: [${lengthPair(lo, hi)}]`);
  }
}

const lengthPair = (lo: number, hi: number) =>
  `Member must have length less than or equal to ${hi}, Member must have length greater than or equal to ${lo}`;

/** "Value '<v>' at '<path>' failed to satisfy constraint: <message>", with Coral's rendering of <v>. */
function violation(value: unknown, shape: Shape, path: string, message: string) {
  const shown = value == null ? 'null' : `'${render(value, shape)}'`;
  return `Value ${shown} at '${path}' failed to satisfy constraint: ${message}`;
}

function render(value: unknown, shape: Shape): string {
  switch (shape.type) {
    case 'Blob': {
      const n = (value as Buffer).length;
      return `java.nio.HeapByteBuffer[pos=0 lim=${n} cap=${n}]`;
    }
    case 'List':
      return `[${(value as unknown[]).map((v) => shape.memberStr ?? String(v)).join(', ')}]`;
    case 'Map':
      return `{${Object.entries(value as object)
        .map(([k, v]) => `${k}=${shape.memberStr ?? String(v)}`)
        .join(', ')}}`;
    default:
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

function lengthOf(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value) || Buffer.isBuffer(value)) return value.length;
  return Object.keys(value as object).length;
}

const patterns = new Map<string, RegExp>();

/** Kinesis (Java's String.matches) requires the whole value to match. */
function fullMatch(pattern: string, value: string): boolean {
  let re = patterns.get(pattern);
  if (!re) patterns.set(pattern, (re = new RegExp(`^(?:${pattern})$`)));
  return re.test(value);
}

const join = (parent: string, name: string) => (parent ? `${parent}.${name}` : name);

export const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
