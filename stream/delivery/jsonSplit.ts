// Firehose's reading of a record holding several JSON objects (`{..}{..}`),
// shared by RecordDeAggregation and the Parquet conversion.

/** Splits `{..}{..}` / `{..}\n{..}` into the JSON texts (strings and escapes respected); undefined when it is not that. */
export function splitJson(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(text.slice(start, i + 1));
      if (depth < 0) return undefined;
    } else if (depth === 0 && !/\s/.test(c)) return undefined;
  }
  return depth === 0 ? out : undefined;
}
