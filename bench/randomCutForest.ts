// `npm run bench -- rcf`: rows/s through RANDOM_CUT_FOREST in the engine, in process (the
// cursor's pump, the forest, the pump's query), for a few parameter sets: the cost is mostly the
// forest's (every tree's path per row), so the figure is what one active replica can score. Beside it,
// in the same run: the same rows through the same engine with a plain SELECT STREAM * pump (what the
// engine costs without the forest: the ceiling), and the forest alone over the same values, timed
// after a warm-up (the sample full, a tree's new points rarer).
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NATS_SERVER } from '../test/harness/nats.js';
import { Engine } from '../analytics/engine/engine.js';
import { RandomCutForest } from '../analytics/engine/randomCutForest.js';
import { FOREST_DEFAULTS, type ForestParams } from '../analytics/sql/randomCutForest.js';
import { rounded } from './lib/runs.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';

const USAGE = `usage: npm run bench -- rcf [--rows N] [--batch N] [--peer-rows N]
  --rows N       rows per parameter set (default 20000)
  --batch N      rows per engine batch (default 500)
  --peer-rows N  rows timed for the forest alone (default 3000)
  --peer-warm N  rows the forest takes in untimed first (default 2000)`;

const SETS: { name: string; params: string; columns: number; forest: ForestParams }[] = [
  { name: 'defaults (100 trees, 256 sample), 1 column', params: '', columns: 1, forest: FOREST_DEFAULTS },
  { name: 'defaults, 3 columns', params: '', columns: 3, forest: FOREST_DEFAULTS },
  { name: '100 trees, 256 sample, shingle 8, 1 column', params: ', 100, 256, 100000, 8', columns: 1, forest: { ...FOREST_DEFAULTS, shingleSize: 8 } },
  { name: '30 trees, 64 sample, 1 column', params: ', 30, 64, 100000, 1', columns: 1, forest: { numberOfTrees: 30, subSampleSize: 64, timeDecay: 100_000, shingleSize: 1 } },
];

/** Rows per CPU second of scoreAndAdd over `data` after the first `warm` rows. */
function perCpuSecond(forest: { scoreAndAdd(v: number[]): number }, data: number[][], warm: number): number {
  for (const v of data.slice(0, warm)) forest.scoreAndAdd(v);
  data = data.slice(warm);
  const cpu0 = process.cpuUsage();
  for (const v of data) forest.scoreAndAdd(v);
  const cpu = process.cpuUsage(cpu0);
  return Math.round(data.length / ((cpu.user + cpu.system) / 1e6));
}

/** Rows through an engine in batches: per wall second, per CPU second, and the JSON size of its forests' state. */
async function throughEngine(engine: Engine, data: { t: number; v: (string | number)[] }[], batch: number, name: string) {
  let out = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < data.length; i += batch) {
    await engine.push('IN', data.slice(i, i + batch));
    out += engine.drain().get('OUT')?.length ?? 0;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stateBytes = JSON.stringify(engine.snapshot().forests ?? {}).length;
  engine.close();
  if (out !== data.length) throw new Error(`${name}: ${out} rows out of ${data.length}`);
  return { perSecond: Math.round(data.length / wall), perCore: Math.round(data.length / ((cpu.user + cpu.system) / 1e6)), stateBytes };
}

export async function runRandomCutForest(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rows: { type: 'string' }, batch: { type: 'string' }, 'peer-rows': { type: 'string' }, 'peer-warm': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { console.log(USAGE); return; }
  const n = Number(values.rows ?? 20_000);
  const batch = Number(values.batch ?? 500);
  const peerRows = Number(values['peer-rows'] ?? 3000);
  const peerWarm = Number(values['peer-warm'] ?? 2000);
  const startedAt = new Date().toISOString();
  const load0 = os.loadavg()[0]!;
  const rows: Record<string, string | number>[] = [];
  for (const set of SETS) {
    const cols = Array.from({ length: set.columns }, (_, i) => `"V${i}"`);
    const out = `CREATE OR REPLACE STREAM "OUT" ("K" VARCHAR(8), ${cols.map((c) => `${c} DOUBLE`).join(', ')}, "ANOMALY_SCORE" DOUBLE);\n`;
    const forest = `${out}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "IN")${set.params}));`;
    const plain = `${out}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM *, 0.0 FROM "IN";`;
    const inputs = [{ name: 'IN', columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, ...cols.map((c) => ({ name: c.slice(1, -1), sqlType: 'DOUBLE' }))] }];
    let seed = 1;
    const u = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
    const data = Array.from({ length: n }, (_, i) => ({ t: i, v: ['k', ...cols.map(() => 50 + 10 * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()))] }));
    const withForest = await throughEngine(await Engine.compile({ code: forest, inputs }), data, batch, set.name);
    const ceiling = await throughEngine(await Engine.compile({ code: plain, inputs }), data, batch, set.name);
    // The forest alone over the same values.
    const values = data.slice(0, peerWarm + peerRows).map((r) => r.v.slice(1) as number[]);
    rows.push({
      set: set.name, rows: n, 'rows/s': withForest.perSecond, 'rows/s/core': withForest.perCore, 'state KiB': Math.round(withForest.stateBytes / 1024),
      'no forest rows/s/core': ceiling.perCore, 'forest alone rows/s/core': perCpuSecond(new RandomCutForest(set.forest), values, peerWarm), 'forest rows': `${peerWarm}+${values.length - peerWarm}`,
    });
  }
  const headers = Object.keys(rows[0]!);
  const table = `RANDOM_CUT_FOREST in the engine, in process (load average ${load0.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end; ${os.cpus().length} cores, shared):\n`
    + renderTable(headers, rows.map((r) => headers.map((h) => r[h]!)));
  console.log(table);
  const file = writeResults('rcf', rounded({ benchmark: 'rcf', startedAt, finishedAt: new Date().toISOString(), machine: machineInfo(NATS_SERVER), rows: n, batch, results: rows, table }));
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}
