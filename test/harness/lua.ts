// Runs an Argo CD health script with a real Lua 5.1 interpreter (Argo CD uses
// gopher-lua, Lua 5.1 semantics): `obj` is set from a JSON object as Argo does,
// the chunk's returned table is read back.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LUA = process.env.LUA ?? 'lua5.1';

/** A Lua table constructor for a JSON value (strings as long brackets: no escapes to get wrong). */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return `[==[${v}]==]`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as object).filter(([, x]) => x !== undefined && x !== null).map(([k, x]) => `[ ${toLua(k)} ] = ${toLua(x)}`).join(', ')}}`;
}

export function argoHealth(script: string, obj: unknown): { status: string; message: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-lua-'));
  try {
    const driver = path.join(dir, 'driver.lua');
    fs.writeFileSync(driver, `obj = ${toLua(obj)}\nlocal hs = dofile(${toLua(path.resolve(script))})\nio.write(hs.status, "\\n", hs.message or "")\n`);
    const out = execFileSync(LUA, [driver], { encoding: 'utf8' });
    const [status, ...message] = out.split('\n');
    return { status: status!, message: message.join('\n') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
