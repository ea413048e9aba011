// Production build of the studio into build/studio (served by src/server/routes/studio.ts).
// Dev: `npx vite web` proxies the API to a running node (OPENLEDGER_API, default :7420).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const api = process.env.OPENLEDGER_API ?? 'http://127.0.0.1:7420';
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../build/studio', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // the served page has a strict CSP (script-src 'self'): no inline polyfill script
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
  server: { proxy: { '/v1': api, '/health': api } },
});
