import { describe } from 'vitest';
import { ticketStoreSuite } from './ticket-store.suite.ts';
import { pgliteStores } from './test-support.ts';

describe('ticket store on PGlite', () => {
  ticketStoreSuite(pgliteStores);
});
