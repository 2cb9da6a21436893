// Turns zod's JSON Schema (draft 2020-12) into a Kubernetes structural schema:
// a `type` on every node, no $schema/propertyNames/const/anyOf, and no
// `additionalProperties: false` (the apiserver prunes unknown fields instead).
export type JsonSchema = { [key: string]: unknown };

const DROP = new Set(['$schema', 'propertyNames', 'additionalProperties', 'id', '$id']);

export function toStructural(node: JsonSchema): JsonSchema {
  const alts = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (alts) {
    // Only unions of literals are used (e.g. replicas: 1 | 3): fold into an enum.
    const consts = alts.map((a) => a.const);
    if (consts.some((c) => c === undefined)) throw new Error(`unsupported union in CRD schema: ${JSON.stringify(node)}`);
    const rest: JsonSchema = { ...node };
    delete rest.anyOf; delete rest.oneOf;
    const type = consts.every((c) => Number.isInteger(c)) ? 'integer' : typeof consts[0];
    return toStructural({ ...rest, type, enum: consts });
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROP.has(key)) continue;
    if (key === 'const') { out.enum = [value]; continue; }
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toStructural(child)]),
      );
      continue;
    }
    if (key === 'items') { out.items = toStructural(value as JsonSchema); continue; }
    out[key] = value;
  }
  // Maps (z.record) keep their value schema.
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    out.additionalProperties = toStructural(node.additionalProperties as JsonSchema);
  }
  // Safe-integer bounds zod adds to int() are noise in a CRD.
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (out.type === undefined) throw new Error(`CRD schema node without a type: ${JSON.stringify(node)}`);
  return out;
}
