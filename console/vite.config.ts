import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The console bundle. Output must be byte-for-byte reproducible, because the built files are
 * committed and console/dist.test.ts rebuilds and compares them: content-hashed names, no
 * timestamps, no source maps (they embed absolute paths).
 */
export default defineConfig({
  root: here,
  base: '/console/',
  // The bundle is committed: no .env files from the developer's machine may leak into it.
  envDir: false,
  plugins: [preact({ devtoolsInProd: false, prefreshEnabled: false })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
    // ECharts alone is ~600 kB minified; it is served from the same host to a control room.
    chunkSizeWarningLimit: 1500,
  },
  logLevel: 'warn',
});
