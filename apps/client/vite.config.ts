import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

/** Workspace packages resolve to their TypeScript sources, so the client never needs them built. */
export default defineConfig({
  plugins: [vue()],
  resolve: { conditions: ['@prepmate/source', 'module', 'browser', 'development|production'] },
  server: {
    port: 5173,
    proxy: {
      '/api': 'http://localhost:5000',
      '/sync': { target: 'ws://localhost:5000', ws: true },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true },
});
