import { defineConfig } from 'vitest/config';

/**
 * One test run for the whole monorepo. Workspace packages resolve to their TypeScript
 * sources through the `@prepmate/source` export condition, so tests never need a build.
 */
const conditions = ['@prepmate/source', 'module', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  // Vitest passes ssr.resolve.conditions to the worker as `node --conditions`, which also steers
  // require(): with `import` there, a CommonJS require of a dual package (e.g. express's
  // `is-promise`) gets the ESM namespace instead of the function. Only Node-safe conditions here.
  ssr: { resolve: { conditions: ['@prepmate/source', 'node', 'development|production'], externalConditions: ['@prepmate/source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: { name: '@prepmate/crdt-model', root: 'packages/crdt-model', include: ['test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: '@prepmate/sync-client', root: 'packages/sync-client', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: '@prepmate/sync-server',
          root: 'apps/sync-server',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      'apps/client/vitest.config.ts',
    ],
  },
});
