import { defineConfig } from 'vitest/config';

/**
 * One test run for the whole monorepo. Workspace packages resolve to their TypeScript
 * sources through the `@prepmate/source` export condition, so tests never need a build.
 */
const conditions = ['@prepmate/source', 'module', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@prepmate/source'] } },
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
