// Worker entry: the worker is a fresh isolate without the parent's TypeScript loader (vitest and
// tsx each bring their own), so it registers tsx itself before loading the TypeScript body.
import { register } from 'tsx/esm/api';

register();
await import('./pglite-worker.ts');
