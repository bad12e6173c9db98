// Worker entry: the worker is a fresh isolate without the parent's TypeScript loader, so it
// registers tsx itself before loading the TypeScript body.
import { register } from 'tsx/esm/api';

register();
await import('./prober-worker.ts');
