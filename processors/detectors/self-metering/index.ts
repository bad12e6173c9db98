import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import { defineDetector } from '../../detector.ts';
import { VALVE_CLOSED_TOKENS, shownTokens, showsAny } from '../common.ts';

const SLEEP_TOKEN = 'SLEEP';

function flowPossible(): Record<string, unknown> {
  return { reason: 'flow_possible' };
}

interface State {
  /** Volume of the previous reading that carried one; null before the first. */
  lastVolumeM3: number | null;
  /** No gas could flow at that reading and at every reading since. */
  lastNoFlow: boolean;
}

type Reason = 'valve_closed' | 'flow_zero' | 'sleep';

/**
 * Whether gas could not flow at this reading, and why; `undefined` when the reading says nothing
 * about it (no `status` and no `valve` / `flowM3h`).
 */
function noFlowOf(reading: Reading, tokens: readonly string[]): Reason | false | undefined {
  if (reading.kind === 'flow_meter') {
    if (tokens.includes(SLEEP_TOKEN)) return 'sleep';
    if (reading.flowM3h === 0) return 'flow_zero';
    return reading.status !== undefined || reading.flowM3h !== undefined ? false : undefined;
  }
  if (reading.valve === 'closed' || showsAny(tokens, VALVE_CLOSED_TOKENS)) return 'valve_closed';
  return reading.status !== undefined || reading.valve !== undefined ? false : undefined;
}

/**
 * SELF_METERING (自计量, manual line 506): the counter advanced while no gas could flow — the valve
 * was shut, or the flow meter read zero or showed SLEEP — at both ends of a pair of readings. Judged
 * per pair: a pair under no flow without an increase clears it, and so does a reading at which gas
 * could flow. A pair is comparable only when no reading between its ends allowed flow, because gas
 * that passed before a valve closed would otherwise count as self-metering.
 */
export const SelfMeteringDetector = defineDetector({
  name: 'self-metering',
  description: 'Volume counted while no gas could flow (valve closed, zero flow or SLEEP)',
  kinds: ['household_meter', 'industrial_controller', 'flow_meter'],
  conditions: ['SELF_METERING'],
  settingsSchema: Type.Object({
    minIncreaseM3: Type.Number({ default: 0.01, minimum: 0, description: 'volume increase under no flow above this is self-metering (counter resolution), m³' }),
  }),
  stateSchema: Type.Object({ lastVolumeM3: Type.Union([Type.Number(), Type.Null()]), lastNoFlow: Type.Boolean() }),
  initialState: (): State => ({ lastVolumeM3: null, lastNoFlow: false }),
  step(_profile, settings, state, reading, _linked, out) {
    const noFlow = noFlowOf(reading, shownTokens(reading));
    const volume = reading.volumeM3;

    if (noFlow === false) out.report('SELF_METERING', false, flowPossible);

    let next: State;
    if (volume === undefined) {
      // No volume to compare; a reading that allowed flow still breaks the no-flow run.
      next = { lastVolumeM3: state.lastVolumeM3, lastNoFlow: state.lastNoFlow && noFlow !== false };
    } else {
      if (noFlow && state.lastNoFlow && state.lastVolumeM3 !== null && volume >= state.lastVolumeM3) {
        // Rounded to the µm³ so float noise in the subtraction cannot tip a value at the set point.
        const increaseM3 = Math.round((volume - state.lastVolumeM3) * 1e6) / 1e6;
        const fromVolumeM3 = state.lastVolumeM3;
        out.report('SELF_METERING', increaseM3 > settings.minIncreaseM3, () => ({ increaseM3, fromVolumeM3, volumeM3: volume, reason: noFlow }));
      }
      // A volume that went backwards (meter replaced or reset) only starts a new pair. A reading that
      // says nothing about flow cannot vouch for the start of a pair either.
      next = { lastVolumeM3: volume, lastNoFlow: noFlow !== undefined && noFlow !== false };
    }
    return next.lastVolumeM3 === state.lastVolumeM3 && next.lastNoFlow === state.lastNoFlow ? state : next;
  },
});
