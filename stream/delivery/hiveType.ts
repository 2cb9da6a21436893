// Glue/Hive column type strings (what a Glue table's StorageDescriptor.Columns
// hold): parsed into a tree the Parquet converter walks, or rejected with a
// message naming the column and what is wrong. Shared by the Firehose API,
// the operator (DeliveryStream resources) and the delivery worker.

export type HiveType =
  | { kind: 'string' }
  | { kind: 'char' | 'varchar'; length: number }
  | { kind: 'boolean' | 'tinyint' | 'smallint' | 'int' | 'bigint' | 'float' | 'double' | 'date' | 'timestamp' | 'binary' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'array'; element: HiveType }
  | { kind: 'map'; key: HiveType; value: HiveType }
  | { kind: 'struct'; fields: { name: string; type: HiveType }[] };

export interface ColumnDef {
  Name: string;
  Type: string;
}

export class HiveTypeError extends Error {}

const PRIMITIVES = new Set(['string', 'boolean', 'tinyint', 'smallint', 'int', 'integer', 'bigint', 'float', 'double', 'date', 'timestamp', 'binary']);
/** Hive column and struct field names: letters, digits, underscore (Glue lower-cases them). */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

export function parseHiveType(text: string): HiveType {
  let i = 0;
  const s = text.trim().toLowerCase();
  const fail = (what: string): never => {
    throw new HiveTypeError(`${what} at position ${i} of type "${text}"`);
  };
  const ws = () => {
    while (s[i] === ' ') i++;
  };
  const word = () => {
    ws();
    const m = /^[a-z_][a-z0-9_]*/.exec(s.slice(i));
    if (!m) fail('expected a type name');
    i += m![0].length;
    return m![0];
  };
  const expect = (c: string) => {
    ws();
    if (s[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const int = () => {
    ws();
    const m = /^\d+/.exec(s.slice(i));
    if (!m) fail('expected a number');
    i += m![0].length;
    return Number(m![0]);
  };
  const type = (): HiveType => {
    const w = word();
    if (w === 'char' || w === 'varchar') {
      expect('(');
      const length = int();
      expect(')');
      const max = w === 'char' ? 255 : 65535;
      if (length < 1 || length > max) fail(`${w} length must be between 1 and ${max}`);
      return { kind: w, length };
    }
    if (w === 'decimal' || w === 'numeric') {
      ws();
      // Hive's bare decimal is decimal(10,0).
      if (s[i] !== '(') return { kind: 'decimal', precision: 10, scale: 0 };
      expect('(');
      const precision = int();
      ws();
      let scale = 0;
      if (s[i] === ',') {
        i++;
        scale = int();
      }
      expect(')');
      if (precision < 1 || precision > 38) fail('decimal precision must be between 1 and 38');
      if (scale > precision) fail('decimal scale must not exceed its precision');
      return { kind: 'decimal', precision, scale };
    }
    if (w === 'array') {
      expect('<');
      const element = type();
      expect('>');
      return { kind: 'array', element };
    }
    if (w === 'map') {
      expect('<');
      const key = type();
      if (!isPrimitive(key)) fail('map keys must be a primitive type');
      expect(',');
      const value = type();
      expect('>');
      return { kind: 'map', key, value };
    }
    if (w === 'struct') {
      expect('<');
      const fields: { name: string; type: HiveType }[] = [];
      for (;;) {
        ws();
        const m = /^[a-z_][a-z0-9_]*/.exec(s.slice(i));
        if (!m) fail('expected a struct field name');
        i += m![0].length;
        expect(':');
        if (fields.some((f) => f.name === m![0])) fail(`duplicate struct field ${m![0]}`);
        fields.push({ name: m![0], type: type() });
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        break;
      }
      expect('>');
      return { kind: 'struct', fields };
    }
    if (!PRIMITIVES.has(w)) fail(`unknown type ${w}`);
    return { kind: (w === 'integer' ? 'int' : w) as 'int' };
  };
  const t = type();
  ws();
  if (i !== s.length) fail('unexpected text');
  return t;
}

export const isPrimitive = (t: HiveType) => t.kind !== 'array' && t.kind !== 'map' && t.kind !== 'struct';

/** Parses every column; throws HiveTypeError naming the first bad column. */
export function parseColumns(columns: ColumnDef[]): { name: string; type: HiveType }[] {
  if (!columns.length) throw new HiveTypeError('The schema has no columns.');
  const seen = new Set<string>();
  return columns.map((c) => {
    if (!NAME.test(c.Name)) throw new HiveTypeError(`Column name ${JSON.stringify(c.Name)} is not a valid Hive column name (letters, digits and underscores, not starting with a digit).`);
    const lower = c.Name.toLowerCase();
    if (seen.has(lower)) throw new HiveTypeError(`Column ${c.Name} is declared twice (Hive column names are case-insensitive).`);
    seen.add(lower);
    try {
      return { name: lower, type: parseHiveType(c.Type) };
    } catch (e) {
      if (e instanceof HiveTypeError) throw new HiveTypeError(`Column ${c.Name} has an invalid type: ${e.message}.`);
      throw e;
    }
  });
}
