import { describe, it } from 'vitest';
import { ticketStoreSuite } from './ticket-store.suite.ts';
import { postgresStores } from './test-support.ts';

const url = process.env.TEST_DATABASE_URL;

if (url) {
  describe('ticket store on PostgreSQL', () => {
    ticketStoreSuite(postgresStores(url));
  });
} else if (process.env.CI) {
  describe('ticket store on PostgreSQL', () => {
    it('needs TEST_DATABASE_URL in CI', () => {
      throw new Error('TEST_DATABASE_URL is not set: run `bash scripts/services.sh start postgres` and export the DATABASE_URL it prints as TEST_DATABASE_URL');
    });
  });
} else {
  describe.skip('ticket store on PostgreSQL (skipped: set TEST_DATABASE_URL, e.g. from `bash scripts/services.sh start postgres`)', () => {
    it('runs the shared ticket-store suite', () => {});
  });
}
