import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const CONFIG_FILE = fileURLToPath(new URL('./vite.config.ts', import.meta.url));

/** Builds the console into `outDir` (console/dist when omitted) with the committed Vite config. */
export async function buildConsole(outDir?: string): Promise<void> {
  // Vite keeps a NODE_ENV it finds (vitest sets "test"), and Preact and plugins then build their
  // development variants: the bundle would differ from `npm run console:build`.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: CONFIG_FILE,
      mode: 'production',
      ...(outDir ? { build: { outDir, emptyOutDir: true } } : {}),
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}

// `npm run console:build` runs this file directly.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole();
}
