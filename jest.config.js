// ESM all the way: the package is "type": "module" (client-node 1.x ships ESM
// only), jest runs under --experimental-vm-modules, ts-jest transpiles each
// file on its own (isolatedModules) and the `.js` suffixes our imports carry
// for Node's resolver are mapped back to the .ts sources.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  reporters: ['default', '<rootDir>/test/summaryReporter.js'],
  globalSetup: '<rootDir>/test/globalSetup.ts',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
  // Each suite starts its own servers; a slow CI machine must not flake them.
  slowTestThreshold: 30,
};
