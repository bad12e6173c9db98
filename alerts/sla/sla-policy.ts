import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../app/errors.ts';
import { CONDITIONS, type Condition } from '../../contracts/messages.ts';

export const PRIORITIES = ['emergency', 'urgent', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const perPriority = (description: string, d: Record<Priority, number>) =>
  Type.Object(
    {
      emergency: Type.Integer({ minimum: 0, default: d.emergency }),
      urgent: Type.Integer({ minimum: 0, default: d.urgent }),
      normal: Type.Integer({ minimum: 0, default: d.normal }),
      low: Type.Integer({ minimum: 0, default: d.low }),
    },
    { description, default: {}, additionalProperties: false },
  );

const EscalationTop = (d: 'supervisor' | 'director') => Type.Union([Type.Literal('supervisor'), Type.Literal('director')], { default: d });

/**
 * SLA limits per priority, in milliseconds, counted from the ticket's opening (or its last reopen);
 * follow-up is counted from the resolve. Defaults from the service manuals: work order and
 * dispatch within 5 minutes (001:26), follow-up within 3 days (000:698); the rest are settings
 * the manuals leave to the operator.
 */
export const SlaSettingsSchema = Type.Object(
  {
    dispatchWithinMs: perPriority('Opened → dispatched', { emergency: 5 * MIN, urgent: 5 * MIN, normal: 5 * MIN, low: 5 * MIN }),
    acknowledgeWithinMs: perPriority('Opened → acknowledged by the technician', { emergency: 5 * MIN, urgent: 15 * MIN, normal: 2 * HOUR, low: 24 * HOUR }),
    onSiteWithinMs: perPriority('Opened → technician on site', { emergency: 30 * MIN, urgent: 2 * HOUR, normal: 24 * HOUR, low: 72 * HOUR }),
    resolveWithinMs: perPriority('Opened → resolved', { emergency: 4 * HOUR, urgent: 24 * HOUR, normal: 48 * HOUR, low: 7 * DAY }),
    followUpWithinMs: perPriority('Resolved → followed up (回访)', { emergency: 3 * DAY, urgent: 3 * DAY, normal: 3 * DAY, low: 3 * DAY }),
    conditionResolveWithinMs: Type.Optional(
      Type.Partial(Type.Object(Object.fromEntries(CONDITIONS.map((c) => [c, Type.Integer({ minimum: 0 })])) as Record<Condition, ReturnType<typeof Type.Integer>>), {
        description:
          "Opened → resolved for a ticket all of whose conditions are listed here, overriding the priority's limit (the longest listed applies): preventive work has its own SLA. Default: MAINTENANCE_DUE 14 days",
        default: { MAINTENANCE_DUE: 14 * DAY },
        additionalProperties: false,
      }),
    ),
    escalation: Type.Object(
      {
        repeatNotifyMs: perPriority('Gap between escalation steps while nobody acknowledges', { emergency: 5 * MIN, urgent: 5 * MIN, normal: 30 * MIN, low: 2 * HOUR }),
        repeats: Type.Integer({ minimum: 0, default: 1, description: 'Repeat notices to the technician before the supervisor' }),
        topLevel: Type.Object(
          {
            emergency: EscalationTop('director'),
            urgent: EscalationTop('director'),
            normal: EscalationTop('director'),
            low: EscalationTop('director'),
          },
          { description: 'Highest level the chain reaches per priority; the director is paged only once the acknowledge limit has passed', default: {}, additionalProperties: false },
        ),
        topRepeats: Type.Integer({ minimum: 0, default: 6, description: 'Further notices at the top level, one per gap, while still nobody acknowledges' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SlaSettings = Static<typeof SlaSettingsSchema>;

function parseWith<T extends TSchema>(schema: T, input: unknown, what: string): Static<T> {
  const value = Value.Default(schema, Value.Clone(input ?? {}));
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    throw new ConfigError(`${what}: ${first ? `${first.path} ${first.message}` : 'invalid'}`);
  }
  return value as Static<T>;
}

/**
 * Parses SLA settings, filling every missing limit with its default; refuses bad ones at start.
 * A single `escalation.repeatNotifyMs` (the form saved before the gap was per priority) applies to
 * every priority, so settings saved by an earlier version still start.
 */
export function parseSlaSettings(input: unknown = {}): SlaSettings {
  const esc = (input as { escalation?: { repeatNotifyMs?: unknown } } | null)?.escalation;
  if (typeof esc?.repeatNotifyMs === 'number') {
    const gap = esc.repeatNotifyMs;
    input = { ...(input as object), escalation: { ...esc, repeatNotifyMs: { emergency: gap, urgent: gap, normal: gap, low: gap } } };
  }
  return parseWith(SlaSettingsSchema, input, 'SLA settings');
}

export const SLA_CLOCKS = ['dispatch', 'acknowledge', 'on_site', 'resolve', 'follow_up'] as const;
export type SlaClock = (typeof SLA_CLOCKS)[number];

/**
 * The limit of one SLA clock. `conditions` (the ticket's) select a per-condition resolve limit
 * (`conditionResolveWithinMs`) when every one of them has one: a preventive ticket keeps its own
 * SLA, but one that also gathered a fault is held to the fault's priority.
 */
export function limitMs(settings: SlaSettings, clock: SlaClock, priority: Priority, conditions?: readonly Condition[]): number {
  if (clock === 'resolve' && conditions && conditions.length > 0 && settings.conditionResolveWithinMs) {
    const own = conditions.map((c) => settings.conditionResolveWithinMs![c]);
    if (own.every((x) => x !== undefined)) return Math.max(...(own as number[]));
  }
  switch (clock) {
    case 'dispatch':
      return settings.dispatchWithinMs[priority];
    case 'acknowledge':
      return settings.acknowledgeWithinMs[priority];
    case 'on_site':
      return settings.onSiteWithinMs[priority];
    case 'resolve':
      return settings.resolveWithinMs[priority];
    case 'follow_up':
      return settings.followUpWithinMs[priority];
  }
}

export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { low: 0, normal: 1, urgent: 2, emergency: 3 };
