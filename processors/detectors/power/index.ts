import { Type } from '@sinclair/typebox';
import type { Reading } from '../../../contracts/messages.ts';
import { defineDetector } from '../../detector.ts';
import { belowWithHysteresis } from '../../level.ts';
import { shownTokens } from '../common.ts';

const MAIN_UNDERVOLTAGE_TOKEN = '主电欠压';
const BACKUP_UNDERVOLTAGE_TOKEN = '备电欠压';
const BACKUP_OPEN_TOKEN = '备电断路';

function backupDetail(reading: Reading): Record<string, unknown> {
  const { backup, backupV, status } = reading;
  return { ...(backup !== undefined ? { backup } : {}), ...(backupV !== undefined ? { backupV } : {}), ...(status ? { tokens: status } : {}) };
}

interface State {
  /** Last judgement of `mainPowerV` (with hysteresis), kept while readings omit the voltage. */
  mainLow: boolean;
  /** Last reported `backup` state, kept while readings omit it. */
  backupUndervoltage: boolean;
  backupOpenCircuit: boolean;
}

/**
 * Power faults of gas alarms (manual lines 210–214, 232–250). POWER_LOST: a home alarm's green lamp
 * is off. An industrial alarm controller's mains under `minMainPowerV` (180 V AC) or shown as
 * 主电欠压 is MAIN_POWER_UNDERVOLTAGE, with a hysteresis band so a sagging supply does not flap; its
 * backup battery reported or shown as under-voltage or open circuit raises the backup conditions.
 */
export const PowerDetector = defineDetector({
  name: 'power',
  description: "Home alarm power lamp off; alarm controller mains / backup power faults",
  kinds: ['home_gas_alarm', 'alarm_controller'],
  conditions: ['POWER_LOST', 'MAIN_POWER_UNDERVOLTAGE', 'BACKUP_UNDERVOLTAGE', 'BACKUP_OPEN_CIRCUIT'],
  settingsSchema: Type.Object({
    minMainPowerV: Type.Number({ default: 180, minimum: 0, description: 'alarm controller mains under this is under-voltage (manual line 238), V AC' }),
    mainPowerHysteresisV: Type.Number({ default: 5, minimum: 0, description: 'mains must rise above minMainPowerV by this much to clear, V AC' }),
  }),
  stateSchema: Type.Object({ mainLow: Type.Boolean(), backupUndervoltage: Type.Boolean(), backupOpenCircuit: Type.Boolean() }),
  initialState: (): State => ({ mainLow: false, backupUndervoltage: false, backupOpenCircuit: false }),
  step(_profile, settings, state, reading, _linked, out) {
    if (reading.kind === 'home_gas_alarm') {
      const power = reading.lamps?.power;
      if (power !== undefined) out.report('POWER_LOST', !power, () => ({ powerLamp: power }));
      return state;
    }

    const { status, mainPowerV, backup } = reading;
    const tokens = shownTokens(reading);
    let { mainLow, backupUndervoltage, backupOpenCircuit } = state;

    if (status !== undefined || mainPowerV !== undefined) {
      if (mainPowerV !== undefined) mainLow = belowWithHysteresis(state.mainLow, mainPowerV, settings.minMainPowerV, settings.mainPowerHysteresisV);
      out.report('MAIN_POWER_UNDERVOLTAGE', mainLow || tokens.includes(MAIN_UNDERVOLTAGE_TOKEN), () => ({
        ...(mainPowerV !== undefined ? { mainPowerV } : {}),
        minMainPowerV: settings.minMainPowerV,
        ...(status ? { tokens: status } : {}),
      }));
    }
    if (status !== undefined || backup !== undefined) {
      if (backup !== undefined) {
        backupUndervoltage = backup === 'undervoltage';
        backupOpenCircuit = backup === 'open_circuit';
      }
      out.report('BACKUP_UNDERVOLTAGE', backupUndervoltage || tokens.includes(BACKUP_UNDERVOLTAGE_TOKEN), () => backupDetail(reading));
      out.report('BACKUP_OPEN_CIRCUIT', backupOpenCircuit || tokens.includes(BACKUP_OPEN_TOKEN), () => backupDetail(reading));
    }

    if (mainLow === state.mainLow && backupUndervoltage === state.backupUndervoltage && backupOpenCircuit === state.backupOpenCircuit) return state;
    return { mainLow, backupUndervoltage, backupOpenCircuit };
  },
});
