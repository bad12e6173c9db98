import { Type } from '@sinclair/typebox';
import { defineDetector } from '../../detector.ts';
import { shownTokens, showsAny } from '../common.ts';

const LOW_TOKENS = ['欠量'];
const NONE_TOKENS = ['请速购气', '请购气'];

function balanceDetail(balanceM3: number | null, lowBalanceM3: number, tokens: readonly string[] | undefined): Record<string, unknown> {
  return { ...(balanceM3 !== null ? { balanceM3 } : {}), lowBalanceM3, ...(tokens ? { tokens } : {}) };
}

interface State {
  /** Last reported prepaid balance, kept while readings omit it; null before the first. */
  balanceM3: number | null;
}

/**
 * LOW_BALANCE and NO_BALANCE: customer notices (severity info), not technician tickets. The meter's
 * own 欠量 / 请速购气 count, and so does the reported balance: under `lowBalanceM3` (5 m³, manual
 * line 286) is low, zero or less is none. The two are exclusive: once there is none, "low" is over.
 * A balance stays judged until a reading carries a new one, so status-only readings do not flap it.
 */
export const BalanceDetector = defineDetector({
  name: 'balance',
  description: 'Prepaid gas balance low (欠量) or used up (请速购气): customer notices',
  kinds: ['household_meter', 'industrial_controller'],
  conditions: ['LOW_BALANCE', 'NO_BALANCE'],
  settingsSchema: Type.Object({
    lowBalanceM3: Type.Number({ default: 5, exclusiveMinimum: 0, description: 'balance under this is low (manual line 298), m³' }),
  }),
  stateSchema: Type.Object({ balanceM3: Type.Union([Type.Number(), Type.Null()]) }),
  initialState: (): State => ({ balanceM3: null }),
  step(_profile, settings, state, reading, _linked, out) {
    if (reading.status === undefined && reading.balanceM3 === undefined) return state;
    const tokens = shownTokens(reading);
    const balanceM3 = reading.balanceM3 ?? state.balanceM3;

    const none = showsAny(tokens, NONE_TOKENS) || (balanceM3 !== null && balanceM3 <= 0);
    const low = !none && (showsAny(tokens, LOW_TOKENS) || (balanceM3 !== null && balanceM3 < settings.lowBalanceM3));
    out.report('LOW_BALANCE', low, () => balanceDetail(balanceM3, settings.lowBalanceM3, reading.status));
    out.report('NO_BALANCE', none, () => balanceDetail(balanceM3, settings.lowBalanceM3, reading.status));
    return balanceM3 === state.balanceM3 ? state : { balanceM3 };
  },
});
