import { Type } from '@sinclair/typebox';
import type { Condition, Reading } from '../../../contracts/messages.ts';
import { defineDetector } from '../../detector.ts';
import type { DeviceProfile } from '../../device-profile.ts';
import { VALVE_CLOSED_TOKENS, errCodes, shownTokens, showsAny } from '../common.ts';

const ERR_CONDITIONS = ['ERR-1', 'ERR-2', 'ERR-3', 'ERR-4', 'ERR-5', 'ERR-6', 'ERR-7'] as const satisfies readonly Condition[];
const TAMPER_TOKENS = ['开盖', '磁干扰', 'TAMPER'];
const FAULT_TOKEN = '故障';
const SAFETY_PROTECTION_TOKEN = '安全保护';

function codesDetail(reading: Reading, valveClosed: boolean, meaning?: string): Record<string, unknown> {
  return { tokens: reading.status ?? [], valveClosed, ...(meaning ? { meaning } : {}) };
}

/** Whether ERR-1 is a magnet on the meter: the model says (models/index.ts); without one, a household meter's is, a controller's (its battery) is not. */
function errOneIsTamper(profile: DeviceProfile, reading: Reading): boolean {
  return profile.codes?.['ERR-1']?.tamper ?? reading.kind === 'household_meter';
}

type State = Record<string, never>;
const STATELESS: State = Object.freeze({}) as State;

/**
 * ERR-1…ERR-7, DEVICE_FAULT and TAMPER from what a meter, controller or flow meter shows. Every
 * reading is evidence: one without `status` shows no code, so every condition is judged absent.
 * 故障 alone (no code) or Qianfeng's 安全保护 is a DEVICE_FAULT, `high` when the valve is shut
 * because the customer is then without gas. A household meter's ERR-1 (magnetic interference or a
 * damaged anti-magnetic reed switch) is also TAMPER; a controller's ERR-1 is its own battery, so not.
 * A registry `model` with a code table (models/index.ts) decides that instead, and names each
 * code's meaning in the alert detail, since the same ERR-n means different things per model.
 */
export const DeviceCodesDetector = defineDetector({
  name: 'device-codes',
  description: 'Display codes ERR-1…ERR-7, 故障/安全保护 (device fault) and tamper tokens',
  kinds: ['household_meter', 'industrial_controller', 'flow_meter'],
  conditions: [...ERR_CONDITIONS, 'DEVICE_FAULT', 'TAMPER'],
  settingsSchema: Type.Object({}),
  stateSchema: Type.Object({}, { additionalProperties: false }),
  initialState: (): State => STATELESS,
  step(profile, _settings, state, reading, _linked, out) {
    const tokens = shownTokens(reading);
    const codes = errCodes(tokens);
    const valveClosed = reading.valve === 'closed' || showsAny(tokens, VALVE_CLOSED_TOKENS);
    for (let n = 1; n <= 7; n++) {
      const code = ERR_CONDITIONS[n - 1]!;
      out.report(code, (codes & (1 << n)) !== 0, () => codesDetail(reading, valveClosed, profile.codes?.[code]?.meaning));
    }

    const fault = (codes === 0 && tokens.includes(FAULT_TOKEN)) || tokens.includes(SAFETY_PROTECTION_TOKEN);
    out.report('DEVICE_FAULT', fault, () => codesDetail(reading, valveClosed), fault && valveClosed ? 'high' : undefined);

    const tamper = showsAny(tokens, TAMPER_TOKENS) || ((codes & (1 << 1)) !== 0 && errOneIsTamper(profile, reading));
    out.report('TAMPER', tamper, () => codesDetail(reading, valveClosed));
    return state;
  },
});
