import vue from '@vitejs/plugin-vue';
import { defineProject } from 'vitest/config';

export default defineProject({
  plugins: [vue()],
  resolve: { conditions: ['@prepmate/source', 'module', 'browser', 'development|production'] },
  test: {
    name: '@prepmate/client',
    root: import.meta.dirname,
    environment: 'happy-dom',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // expect.poll's own default is 1 s: far too short for a DOM that another device, the server
    // or IndexedDB updates while CI runs everything on 2 cores. The e2e DEADLINE, for every poll.
    expect: { poll: { timeout: 30_000 } },
  },
});
