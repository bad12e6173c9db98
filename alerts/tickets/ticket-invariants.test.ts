/**
 * The last-mile invariants, walked over every lifecycle path fast-check can find: random raises,
 * clears, lifecycle actions by technicians and supervisors, and the passing of time (SLA checks,
 * next-shift dispatch), against a real AlertBook and a PGlite ticket store. After every step:
 * - every active condition is on exactly one live ticket (opened … on site, or resolved awaiting
 *   its follow-up), never on a closed or cancelled one;
 * - a live, unresolved ticket is assigned or escalating (its chain has reached the supervisor);
 * - a subject has at most one open ticket;
 * - resolving while a safety condition is active is refused unless a supervisor overrides with a
 *   reason, and cancelling while any condition is active is refused;
 * - a condition raised on a device whose last ticket is closed opens a new ticket linked to it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { Condition, Severity } from '../../contracts/messages.ts';
import type { AlertBook } from '../alert-book.ts';
import { parseSlaSettings } from '../sla/sla-policy.ts';
import { SlaWatch } from '../sla/sla-watch.ts';
import type { Db } from '../store/db.ts';
import { ConditionsActiveError, IllegalTransitionError, SafetyConditionsActiveError, TicketConflictError } from './errors.ts';
import { SAFETY_CONDITIONS } from './priority.ts';
import { TicketService } from './ticket-service.ts';
import { FakeDirectory, MIN, T0, clear, devices, newBook, pgliteStores, raise, type TestStore } from './test-support.ts';

const LIVE = new Set(['opened', 'dispatched', 'acknowledged', 'on_site', 'resolved']);
const OPEN = new Set(['opened', 'dispatched', 'acknowledged', 'on_site']);
/** East has a technician on call, north has none (its tickets wait with the supervisor paged). */
const DEVICES = ['HM-1', 'HA-1', 'HM-9'] as const;
const CONDITIONS: ReadonlyArray<[Condition, Severity]> = [
  ['GAS_ALARM_L1', 'high'],
  ['GAS_ALARM_L2', 'critical'],
  ['VALVE_NOT_CUT', 'critical'],
  ['ERR-1', 'medium'],
  ['VALVE_CLOSED_LOW_BATTERY', 'high'],
];

type Step =
  | { op: 'raise' | 'clear'; device: number; condition: number }
  | { op: 'dispatch' | 'acknowledge' | 'on_site' | 'follow_up_ok' | 'follow_up_unhappy' | 'cancel' | 'reopen'; device: number }
  | { op: 'resolve'; device: number; override: boolean }
  | { op: 'time'; minutes: number };

const device = fc.integer({ min: 0, max: DEVICES.length - 1 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('raise' as const, 'clear' as const), device, condition: fc.integer({ min: 0, max: CONDITIONS.length - 1 }) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('dispatch' as const, 'acknowledge' as const, 'on_site' as const, 'follow_up_ok' as const, 'follow_up_unhappy' as const, 'cancel' as const, 'reopen' as const), device }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('resolve' as const), device, override: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('time' as const), minutes: fc.integer({ min: 1, max: 600 }) }) },
);

/** Refusals the lifecycle is allowed to answer with; anything else is a defect. */
const expectedRefusal = (err: unknown) => err instanceof IllegalTransitionError || err instanceof SafetyConditionsActiveError || err instanceof ConditionsActiveError || err instanceof TicketConflictError;

describe('ticket invariants over random lifecycle paths', () => {
  let store: TestStore;
  let db: Db;
  let run = 0;

  beforeAll(async () => {
    store = await pgliteStores.create();
    db = await store.open();
  });
  afterAll(async () => {
    await db.close();
    await store.dispose();
  });

  const RUNS = 200;
  it(`hold after every step of ${RUNS} random paths (seeded)`, { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 4, maxLength: 28 }), async (steps) => {
        // Each run (and each shrink) gets its own devices in the one store.
        const prefix = `R${++run}-`;
        const clock = new ManualClock(T0);
        const directory = new FakeDirectory();
        const lookup = (id: string) => devices[id.startsWith(prefix) ? id.slice(prefix.length) : id];
        const svc = new TicketService({ db, clock, directory, lookupDevice: lookup, settings: {} });
        const watch = new SlaWatch({ db, directory, settings: parseSlaSettings({}) });
        const book: AlertBook = newBook();
        const ids = DEVICES.map((d) => prefix + d);

        const ticketsOf = async (deviceId: string) =>
          db.query<{ id: string; status: string; assignee: string | null; escalation_step: number; repeat_of: string | null }>(
            `SELECT id, status, assignee, escalation_step, repeat_of FROM tickets WHERE subject = 'device' AND subject_id = $1 ORDER BY opened_at, id`,
            [deviceId],
          );
        const latest = async (deviceId: string) => (await ticketsOf(deviceId)).at(-1);

        const check = async (after: string) => {
          const active = [...book.active()].filter((a) => ids.includes(a.subjectId));
          const rows = await db.query<{ alert_id: string; status: string; assignee: string | null; escalation_step: number }>(
            `SELECT ta.alert_id, t.status, t.assignee, t.escalation_step FROM ticket_alerts ta JOIN tickets t ON t.id = ta.ticket_id WHERE ta.alert_id = ANY($1::text[])`,
            [active.map((a) => a.id)],
          );
          const byAlert = new Map(rows.map((r) => [r.alert_id, r]));
          for (const a of active) {
            const r = byAlert.get(a.id);
            expect(r, `${after}: active ${a.condition} on ${a.subjectId} has no ticket`).toBeDefined();
            expect(LIVE.has(r!.status), `${after}: active ${a.condition} on ${a.subjectId} sits on a ${r!.status} ticket`).toBe(true);
            if (OPEN.has(r!.status)) expect(r!.assignee !== null || Number(r!.escalation_step) > 0, `${after}: open ticket neither assigned nor escalating`).toBe(true);
          }
          for (const id of ids) expect((await ticketsOf(id)).filter((t) => OPEN.has(t.status)).length, `${after}: two open tickets on ${id}`).toBeLessThanOrEqual(1);
        };

        for (const [i, s] of steps.entries()) {
          const label = `step ${i} ${JSON.stringify(s)}`;
          if (s.op === 'time') {
            clock.advance(s.minutes * MIN);
            await watch.check(clock.now());
            await svc.dispatchWaiting();
          } else if (s.op === 'raise' || s.op === 'clear') {
            const id = ids[s.device]!;
            const [condition, severity] = CONDITIONS[s.condition]!;
            const isActive = [...book.active()].some((a) => a.subjectId === id && a.condition === condition);
            if (s.op === 'raise' && !isActive) {
              const before = await latest(id);
              clock.advance(1000);
              await svc.onAlertChanges(raise(book, id, condition, clock.now(), { severity, kind: id.endsWith('HA-1') ? 'home_gas_alarm' : 'household_meter' }));
              const now = await latest(id);
              // A condition on a device whose last ticket is closed opens a new one, linked to it.
              if (before && (before.status === 'closed' || before.status === 'cancelled' || before.status === 'resolved')) {
                if (now!.id !== before.id) expect(now!.repeat_of, `${label}: new ticket not linked to ${before.id}`).toBe(before.id);
              }
            }
            if (s.op === 'clear' && isActive) {
              clock.advance(1000);
              await svc.onAlertChanges(clear(book, id, condition, clock.now()));
            }
          } else {
            const id = ids[s.device]!;
            const t = await latest(id);
            if (!t) continue;
            const tech = id.endsWith('HA-1') ? 'tech-li' : 'tech-wang';
            try {
              switch (s.op) {
                case 'dispatch':
                  await svc.dispatch(t.id, tech, 'op-zhou');
                  break;
                case 'acknowledge':
                  await svc.acknowledge(t.id, t.assignee ?? tech);
                  break;
                case 'on_site':
                  await svc.arriveOnSite(t.id, t.assignee ?? tech);
                  break;
                case 'resolve': {
                  const before = (await svc.get(t.id))!;
                  const safety = before.activeConditions.filter((c) => SAFETY_CONDITIONS.has(c));
                  const out = await svc
                    .resolve(t.id, { remedyDone: 'checked', ...(s.override ? { overrideReason: 'detector stuck, replaced' } : {}) }, s.override ? 'sup-zhao' : tech)
                    .then(() => 'resolved', (err: unknown) => err);
                  if (safety.length > 0 && !s.override && (before.status === 'acknowledged' || before.status === 'on_site')) {
                    expect(out, `${label}: resolve with ${safety.join(',')} active was not refused`).toBeInstanceOf(SafetyConditionsActiveError);
                  }
                  if (out !== 'resolved') throw out;
                  break;
                }
                case 'follow_up_ok':
                  await svc.followUp(t.id, { satisfied: true }, 'cs-sun');
                  break;
                case 'follow_up_unhappy':
                  await svc.followUp(t.id, { satisfied: false, notes: 'still smells' }, 'cs-sun');
                  break;
                case 'cancel':
                  await svc.cancel(t.id, 'duplicate report', 'op-zhou');
                  break;
                case 'reopen':
                  await svc.reopen(t.id, 'customer called again', 'op-zhou');
                  break;
              }
            } catch (err) {
              if (!expectedRefusal(err)) throw err;
            }
          }
          await svc.settled();
          await check(label);
        }
      }),
      { numRuns: RUNS, seed: 20261205, endOnFailure: false },
    );
  });
});
