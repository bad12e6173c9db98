import { describe, expect, it } from 'vitest';
import type { Reading } from '../../../contracts/messages.ts';
import { reading, runDetector } from '../testing.ts';
import { PowerDetector } from './index.ts';

const controller = (atS: number, fields: Partial<Reading>) => reading({ kind: 'alarm_controller', atS, ...fields });
const home = (atS: number, fields: Partial<Reading>) => reading({ kind: 'home_gas_alarm', atS, ...fields });
const judged = (s: { findings: Array<{ condition: string; present: boolean }> }) => Object.fromEntries(s.findings.map((f) => [f.condition, f.present]));

describe('PowerDetector', () => {
  it.each([
    { fields: { lamps: { power: false } }, judged: { POWER_LOST: true } },
    { fields: { lamps: { power: true, fault: false } }, judged: { POWER_LOST: false } },
    { fields: { lamps: { fault: true } }, judged: {} },
    { fields: { lelPct: 2 }, judged: {} },
    { fields: { status: ['主电欠压'] }, judged: {} }, // controller tokens mean nothing on a home alarm
  ] as Array<{ fields: Partial<Reading>; judged: Record<string, boolean> }>)('home alarm $fields → $judged', ({ fields, judged: expected }) => {
    const { steps } = runDetector(PowerDetector, [home(0, fields)]);
    expect(judged(steps[0]!)).toEqual(expected);
  });

  it.each([
    { fields: { mainPowerV: 220 }, judged: { MAIN_POWER_UNDERVOLTAGE: false } },
    { fields: { mainPowerV: 180 }, judged: { MAIN_POWER_UNDERVOLTAGE: false } },
    { fields: { mainPowerV: 179 }, judged: { MAIN_POWER_UNDERVOLTAGE: true } },
    { fields: { mainPowerV: 0 }, judged: { MAIN_POWER_UNDERVOLTAGE: true } },
    { fields: { backup: 'ok' }, judged: { BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: false } },
    { fields: { backup: 'undervoltage' }, judged: { BACKUP_UNDERVOLTAGE: true, BACKUP_OPEN_CIRCUIT: false } },
    { fields: { backup: 'open_circuit', backupV: 0 }, judged: { BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: true } },
    { fields: { status: ['主电欠压'] }, judged: { MAIN_POWER_UNDERVOLTAGE: true, BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: false } },
    { fields: { status: ['备电欠压'] }, judged: { MAIN_POWER_UNDERVOLTAGE: false, BACKUP_UNDERVOLTAGE: true, BACKUP_OPEN_CIRCUIT: false } },
    { fields: { status: ['备电断路'] }, judged: { MAIN_POWER_UNDERVOLTAGE: false, BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: true } },
    { fields: { status: [] }, judged: { MAIN_POWER_UNDERVOLTAGE: false, BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: false } },
    { fields: { mainLoadPct: 50, detectors: [] }, judged: {} },
  ] as Array<{ fields: Partial<Reading>; judged: Record<string, boolean> }>)('alarm controller $fields → $judged', ({ fields, judged: expected }) => {
    const { steps } = runDetector(PowerDetector, [controller(0, fields)]);
    expect(judged(steps[0]!)).toEqual(expected);
  });

  it('does not flap while the mains hover at 180 V (hysteresis)', () => {
    const volts = [175, 182, 178, 185, 186];
    const { steps } = runDetector(PowerDetector, volts.map((v, i) => controller(i * 30, { mainPowerV: v })));
    expect(steps.map((s) => judged(s).MAIN_POWER_UNDERVOLTAGE)).toEqual([true, true, true, true, false]);
  });

  it('keeps the mains and backup judgements while readings omit them', () => {
    const { steps } = runDetector(PowerDetector, [controller(0, { mainPowerV: 150, backup: 'undervoltage' }), controller(30, { status: [] }), controller(60, { mainPowerV: 220, backup: 'ok' })]);
    expect(steps.map(judged)).toEqual([
      { MAIN_POWER_UNDERVOLTAGE: true, BACKUP_UNDERVOLTAGE: true, BACKUP_OPEN_CIRCUIT: false },
      { MAIN_POWER_UNDERVOLTAGE: true, BACKUP_UNDERVOLTAGE: true, BACKUP_OPEN_CIRCUIT: false },
      { MAIN_POWER_UNDERVOLTAGE: false, BACKUP_UNDERVOLTAGE: false, BACKUP_OPEN_CIRCUIT: false },
    ]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(PowerDetector, [controller(0, { mainPowerV: 170 })]);
    const resumed = runDetector(PowerDetector, [controller(30, { mainPowerV: 183 }), controller(60, { mainPowerV: 190 })], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map((s) => judged(s).MAIN_POWER_UNDERVOLTAGE)).toEqual([true, false]);
  });
});
