#!/usr/bin/env node
// `npm run bench -- <name> [flags]`: benchmarks, one module each. Not tests:
// they print a table and write bench/results/<name>-<timestamp>.json.
const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  ingest: async () => ({ run: (await import('./ingest.js')).runIngest }),
  reshard: async () => ({ run: (await import('./reshard.js')).runReshard }),
  efo: async () => ({ run: (await import('./efo.js')).runEfo }),
  quota: async () => ({ run: (await import('./quota.js')).runQuota }),
  analytics: async () => ({ run: (await import('./analytics.js')).runAnalyticsBench }),
  consumer: async () => ({ run: (await import('./consumer.js')).runConsumer }),
  delivery: async () => ({ run: (await import('./delivery.js')).runDelivery }),
  autoscale: async () => ({ run: (await import('./autoscale.js')).runAutoscale }),
  producer: async () => ({ run: (await import('./producer.js')).runProducer }),
  read: async () => ({ run: (await import('./read.js')).runRead }),
  'read-windows': async () => ({ run: (await import('./readWindows.js')).runReadWindows }),
  scale: async () => ({ run: (await import('./scale.js')).runScale }),
  rcf: async () => ({ run: (await import('./randomCutForest.js')).runRandomCutForest }),
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const load = name ? BENCHES[name] : undefined;
  if (!load) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [flags]   (--help for a bench's flags)`);
    process.exit(name === undefined || name === '--help' || name === '-h' ? 0 : 2);
  }
  await (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  },
);
