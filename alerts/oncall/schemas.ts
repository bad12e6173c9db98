import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { OnCallInvalidError } from './errors.ts';

/** Schemas for the on-call records, exported for the API routes; types derive from them. */

const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' });
/** Local wall-clock time, 24 h. */
const HhMm = Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: "Local time 'HH:MM'" });

export const PersonSchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Union([Type.Literal('technician'), Type.Literal('supervisor'), Type.Literal('director')]),
    phone: Type.Optional(Type.String({ maxLength: 40 })),
    email: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^@\\s]+@[^@\\s]+$' })),
    webhooks: Type.Optional(Type.Array(Id, { description: 'Webhook channel names this person’s notices also go to' })),
    accounts: Type.Optional(
      Type.Object(
        {
          wecom: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'WeCom userid (application messages)' })),
          dingtalk: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'DingTalk userid (work notices)' })),
          feishu: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Feishu open_id / user_id (message cards)' })),
        },
        { additionalProperties: false, description: 'This person’s user ids at the enterprise messengers' },
      ),
    ),
    channelOrder: Type.Optional(
      Type.Array(Id, { uniqueItems: true, maxItems: 20, description: 'Push channel names, first tried first; the next when the one before did not reach this person. Omitted: all at once. Emergencies always go to all at once' }),
    ),
    fallbackAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'How long the next channel of channelOrder waits for one still retrying; omitted: until it has finished' })),
    quietHours: Type.Optional(
      Type.Object(
        { start: HhMm, end: Type.String({ ...HhMm, description: "Local end 'HH:MM'; before start means the next day" }) },
        { additionalProperties: false, description: 'In the tickets’ time zone: normal and low pushes wait until the end; emergency and urgent never do' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PersonInput = Static<typeof PersonSchema>;

export const TeamSchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    districts: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { description: "Districts answered for; '*' is the fallback team" }),
    supervisorId: Type.Optional(Id),
    directorId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type Team = Static<typeof TeamSchema>;

export const ShiftSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 50 }),
    kind: Type.Union([Type.Literal('on_site'), Type.Literal('home')], { description: 'home: on call at home with the company phone' }),
    start: HhMm,
    end: Type.String({ ...HhMm, description: "Local end 'HH:MM'; at or before start means the next day (equal: 24 h)" }),
  },
  { additionalProperties: false },
);
export type Shift = Static<typeof ShiftSchema>;

export const RotationSchema = Type.Object(
  {
    teamId: Id,
    members: Type.Array(Id, { minItems: 1, description: 'Person ids in rotation order' }),
    shifts: Type.Array(ShiftSchema, { minItems: 1, description: 'Shifts worked every day, in priority order' }),
    periodDays: Type.Integer({ minimum: 1, default: 7, description: 'Days each member keeps a shift before moving on' }),
    anchorDate: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Local date the first period starts (hand-over day)' }),
    timeZone: Type.String({ default: 'Asia/Shanghai' }),
  },
  { additionalProperties: false },
);
export type Rotation = Static<typeof RotationSchema>;

export const OverrideInputSchema = Type.Object(
  {
    teamId: Id,
    personId: Id,
    replacesId: Type.Optional(Type.String({ ...Id, description: 'Stand in for this person only; omitted: on call for the whole team' })),
    fromMs: Type.Integer({ minimum: 0 }),
    toMs: Type.Integer({ minimum: 0 }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type OverrideInput = Static<typeof OverrideInputSchema>;
export type Override = OverrideInput & { id: string };

export const OnCallConfigSchema = Type.Object(
  {
    people: Type.Array(PersonSchema, { default: [] }),
    teams: Type.Array(TeamSchema, { default: [] }),
    rotations: Type.Array(RotationSchema, { default: [] }),
  },
  { additionalProperties: false },
);
export type OnCallConfig = Static<typeof OnCallConfigSchema>;

/** Fills defaults and refuses the first schema error by its path. */
export function parseWith<S extends TSchema>(schema: S, raw: unknown, what: string): Static<S> {
  const value = Value.Default(schema, Value.Clone(raw ?? {}));
  const first = Value.Errors(schema, value).First();
  if (first) throw new OnCallInvalidError(`${what}${first.path.replaceAll('/', '.')}: ${first.message}`);
  return value as Static<S>;
}

/** Rules a schema cannot state. */
export function checkRotation(r: Rotation): Rotation {
  if (r.members.length < r.shifts.length) {
    throw new OnCallInvalidError(`rotation ${r.teamId}: ${r.shifts.length} shifts need at least as many members (has ${r.members.length})`);
  }
  if (new Set(r.members).size !== r.members.length) throw new OnCallInvalidError(`rotation ${r.teamId}: a member is listed twice`);
  if (new Set(r.shifts.map((s) => s.name)).size !== r.shifts.length) throw new OnCallInvalidError(`rotation ${r.teamId}: shift names must differ`);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: r.timeZone });
  } catch (err) {
    throw new OnCallInvalidError(`rotation ${r.teamId}: unknown time zone ${r.timeZone}`, { cause: err });
  }
  if (Number.isNaN(Date.parse(`${r.anchorDate}T00:00:00Z`))) throw new OnCallInvalidError(`rotation ${r.teamId}: bad anchorDate ${r.anchorDate}`);
  return r;
}
