import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../app/errors.ts';

export const TicketSettingsSchema = Type.Object(
  {
    /** A fault recurring this long after the last resolve of the same device's ticket is a repeat fault. @defaultValue 7 days */
    repeatWindowMs: Type.Integer({ minimum: 0, default: 7 * 24 * 3_600_000 }),
    /** Dispatch a new ticket at once to the district's on-call technician. @defaultValue true */
    autoDispatch: Type.Boolean({ default: true }),
    /** The console's address (e.g. https://gas.example.cn/console/): every notice links to its ticket there (#/tickets/:id). */
    appUrl: Type.Optional(Type.String()),
    /**
     * Storm folding, as Alertmanager's group_wait: a device alert that is no safety condition waits
     * this long for others of the same condition behind the same gateway. @defaultValue 3 s
     */
    stormGroupWaitMs: Type.Integer({ minimum: 0, default: 3_000 }),
    /** That many or more in one group open one incident ticket on the gateway instead of one ticket each. @defaultValue 10 */
    stormFoldThreshold: Type.Integer({ minimum: 2, default: 10 }),
    /** Time zone of the reports' days, weeks and months. @defaultValue Asia/Shanghai */
    timeZone: Type.String({ default: 'Asia/Shanghai' }),
  },
  { additionalProperties: false },
);
export type TicketSettings = Static<typeof TicketSettingsSchema>;

export function parseTicketSettings(input: unknown = {}): TicketSettings {
  const value = Value.Default(TicketSettingsSchema, Value.Clone(input ?? {}));
  if (!Value.Check(TicketSettingsSchema, value)) {
    const first = Value.Errors(TicketSettingsSchema, value).First();
    throw new ConfigError(`Ticket settings: ${first ? `${first.path} ${first.message}` : 'invalid'}`);
  }
  return value as TicketSettings;
}
