import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { lib0FastStrings } from './build-plugins/lib0-fast-strings.js';

/** Workspace packages resolve to their TypeScript sources, so the client never needs them built. */
export default defineConfig({
  plugins: [
    vue(),
    // Short ASCII strings of a Yjs update decoded without a TextDecoder call each (first sync of a year).
    lib0FastStrings(),
    // The offline app shell: Workbox precaches every built file, and any navigation is answered
    // with the cached index.html (the app uses hash routes, so `/` is the only document).
    // Data never goes through this cache: the document and the outbox live in IndexedDB (SDK).
    VitePWA({
      strategies: 'generateSW',
      registerType: 'autoUpdate',
      injectRegister: false,
      filename: 'sw.js',
      includeAssets: ['icon.svg'],
      manifest: {
        name: 'PrepMate',
        short_name: 'PrepMate',
        description: 'Interview practice, on every device, online or offline.',
        theme_color: '#1f6f6b',
        background_color: '#f6f5f1',
        display: 'standalone',
        start_url: '/',
        icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,webmanifest}'],
        navigateFallback: 'index.html',
        // The API, the WebSocket endpoint and the metrics are never the app shell.
        navigateFallbackDenylist: [/^\/api\//, /^\/sync\//],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
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
