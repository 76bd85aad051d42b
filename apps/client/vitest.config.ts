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
  },
});
