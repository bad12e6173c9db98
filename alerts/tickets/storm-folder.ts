import { ticketChanges } from '../ticket-door.ts';
import type { Alert, AlertChange } from '../alert-book.ts';
import type { Scheduler } from '../push/scheduler.ts';
import { isSafetyAlert } from './priority.ts';

/** Where a storm's incident ticket stands: the district when the registry names one, else the gateway. */
export interface IncidentScope {
  subject: 'district' | 'gateway';
  id: string;
}

/** What leaves the folder: changes to apply one by one, or one group folded into an incident. */
export type FolderOutput =
  | { type: 'changes'; changes: AlertChange[] }
  | { type: 'incident'; scope: IncidentScope; condition: Alert['condition']; alerts: Alert[]; after: AlertChange[] };

export interface StormFolderSettings {
  groupWaitMs: number;
  threshold: number;
  /** The device's district from the registry; devices without one group by their gateway. */
  districtOf?: (deviceId: string) => string | undefined;
}

interface Group {
  scope: IncidentScope;
  raises: Alert[];
  /** Clears of alerts still waiting here: applied after their raises. */
  after: AlertChange[];
  ids: Set<string>;
}

/** Conditions that concern the customer, not a technician: never folded (they are not tickets). */
const NOT_FOLDED: ReadonlySet<string> = new Set(['LOW_BALANCE', 'NO_BALANCE']);

/**
 * Alertmanager-style grouping in front of the ticket writer: device alerts of one condition in one
 * district (or, for devices the registry gives no district, behind one gateway) wait `groupWaitMs`;
 * if `threshold` or more arrived they become one incident ticket on the district or gateway listing
 * every device — a district power cut is one incident however many gateways it spans, and however
 * few devices each has behind it — otherwise each gets its own ticket as usual. Safety alerts
 * (leaks), gateway alerts, customer notices and clears of alerts not waiting pass straight on.
 */
export class StormFolder {
  readonly #groups = new Map<string, Group>();
  readonly #heldIds = new Map<string, string>();

  constructor(
    private readonly settings: StormFolderSettings,
    private readonly scheduler: Scheduler,
    private readonly out: (o: FolderOutput) => void,
  ) {}

  /** Alerts waiting for their group to close. */
  get holding(): number {
    return this.#heldIds.size;
  }

  offer(changes: readonly AlertChange[]): void {
    let now: AlertChange[] | undefined;
    const pass = (c: AlertChange) => (now ??= []).push(c);
    // An inhibited alert opens no ticket of its own (alerts/inhibition.ts).
    for (const c of ticketChanges(changes)) {
      const a = c.alert;
      if (c.type === 'cleared') {
        const key = this.#heldIds.get(a.id);
        if (key) this.#groups.get(key)!.after.push(c);
        else pass(c);
        continue;
      }
      const district = this.settings.groupWaitMs > 0 && a.subject === 'device' ? this.settings.districtOf?.(a.subjectId) : undefined;
      if (this.settings.groupWaitMs === 0 || a.subject !== 'device' || (!district && !a.gatewayId) || isSafetyAlert(a) || NOT_FOLDED.has(a.condition)) {
        pass(c);
        continue;
      }
      const scope: IncidentScope = district ? { subject: 'district', id: district } : { subject: 'gateway', id: a.gatewayId };
      const key = `${scope.subject}\u0000${scope.id}\u0000${a.condition}`;
      let g = this.#groups.get(key);
      if (!g) {
        g = { scope, raises: [], after: [], ids: new Set() };
        this.#groups.set(key, g);
        this.scheduler.schedule(this.settings.groupWaitMs, () => this.#close(key));
      }
      g.raises.push(a);
      g.ids.add(a.id);
      this.#heldIds.set(a.id, key);
    }
    if (now) this.out({ type: 'changes', changes: now });
  }

  /** Closes every group now (stop, or a test). */
  flush(): void {
    for (const key of [...this.#groups.keys()]) this.#close(key);
  }

  #close(key: string): void {
    const g = this.#groups.get(key);
    if (!g) return;
    this.#groups.delete(key);
    for (const id of g.ids) this.#heldIds.delete(id);
    if (g.raises.length >= this.settings.threshold) {
      this.out({ type: 'incident', scope: g.scope, condition: g.raises[0]!.condition, alerts: g.raises, after: g.after });
    } else {
      this.out({ type: 'changes', changes: [...g.raises.map((alert) => ({ type: 'raised' as const, alert })), ...g.after] });
    }
  }
}
