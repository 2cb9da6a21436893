// The informer against a scripted fake API: it must survive dropped watches and
// 410 Gone (relist, delivering deletions missed while away).
import { Informer } from '../../operator/kube/informer.js';
import { ApiError, type KubeClient } from '../../operator/kube/client.js';
import { ConfigMaps } from '../../operator/kube/resources.js';

const obj = (name: string, rv: string) => ({ metadata: { name, namespace: 'n', resourceVersion: rv } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('re-watches after a disconnect, relists after 410 Gone, and diffs the cache', async () => {
  const lists = [
    { items: [obj('a', '1'), obj('b', '2')], metadata: { resourceVersion: '2' } },
    // After the 410: b is gone, c appeared while we were away.
    { items: [obj('a', '1'), obj('c', '9')], metadata: { resourceVersion: '9' } },
  ];
  const watchCalls: string[] = [];
  let step = 0;
  const fake = {
    list: async () => lists.shift()!,
    watch: async (_t: unknown, _ns: unknown, opts: { resourceVersion: string }, onEvent: (t: string, o: unknown) => void) => {
      watchCalls.push(opts.resourceVersion);
      step++;
      if (step === 1) {
        onEvent('MODIFIED', obj('a', '3'));
        return { stop() {}, done: Promise.reject(new Error('socket hang up')) }; // dropped connection
      }
      if (step === 2) {
        onEvent('ERROR', { code: 410, reason: 'Expired' });
        return { stop() {}, done: Promise.resolve() };
      }
      if (step === 3) return { stop() {}, done: new Promise<void>(() => {}) }; // healthy, idle
      throw new ApiError(500, 'x', 'unexpected');
    },
  } as unknown as KubeClient;
  const events: string[] = [];
  const inf = new Informer(fake, ConfigMaps);
  inf.on((ev, o) => events.push(`${ev} ${o.metadata.name}`));
  inf.start();
  await inf.synced;
  await sleep(400);
  expect(watchCalls).toEqual(['2', '3', '9']); // resume from the last seen version, then from the relist
  expect(inf.keys().sort()).toEqual(['n/a', 'n/c']);
  expect(events).toEqual(['add a', 'add b', 'update a', 'update a', 'add c', 'delete b']);
  expect(inf.stats.lists).toBe(2);
  void inf.stop();
});
