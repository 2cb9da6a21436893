// Builds dist/ once before the suites: tests that run the real CLI as a child
// process need the compiled JavaScript. Type errors are `npm run build`'s job
// (make test runs it first); tsc still emits, so they do not stop the tests.
import { spawnSync } from 'node:child_process';

export default function globalSetup(): void {
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
}
