import { describe, expect, it } from 'vitest';
import { CONDITIONS, DEVICE_KINDS, SEVERITIES, type Condition } from '../../contracts/messages.ts';
import { manualEntryFor, type ManualEntry, type Text } from './manual.ts';
import { bilingual, conditionName, deviceKindName, severityName, vendorName } from './messages.ts';

const HAN = /\p{Script=Han}/u;
// English must carry no Chinese and no full-width punctuation (a pasted zh fragment).
const CJK = /[\p{Script=Han}\u3000-\u303f\uff00-\uffef\u201c\u201d]/u;

const VENDORS = [undefined, 'meihua', 'qianfeng', 'Qianfeng', 'acme'];
const KINDS = [undefined, ...DEVICE_KINDS];

function expectText(text: Text, label: string): void {
  expect(text['zh-CN'].trim(), `${label} zh-CN`).not.toBe('');
  expect(text.en.trim(), `${label} en`).not.toBe('');
  expect(text['zh-CN'], `${label} zh-CN has Chinese`).toMatch(HAN);
  expect(text.en, `${label} en has no Chinese`).not.toMatch(CJK);
}

function expectEntry(e: ManualEntry, label: string): void {
  for (const field of ['title', 'cause', 'remedy', 'toolCard'] as const) expectText(e[field], `${label} ${field}`);
  e.parts.forEach((p, i) => expectText(p, `${label} parts[${i}]`));
  expect(e.source, `${label} source`).toMatch(/^(repair manual 000:\d|not in the repair manual)/);
  // Cited lines lie in the manual's gas part (lines 180-620).
  for (const n of e.source.match(/\d+/g)?.slice(1) ?? []) {
    expect(Number(n), `${label} source line`).toBeGreaterThanOrEqual(180);
    expect(Number(n), `${label} source line`).toBeLessThanOrEqual(620);
  }
}

describe('manualEntryFor', () => {
  it('has a complete bilingual entry for every condition × kind × vendor', () => {
    for (const condition of CONDITIONS) {
      for (const kind of KINDS) {
        for (const vendor of VENDORS) expectEntry(manualEntryFor(condition, kind, vendor), `${condition}/${kind}/${vendor}`);
      }
    }
  });

  it('returns the same prebuilt, frozen entry on every call', () => {
    const a = manualEntryFor('ERR-3', 'industrial_controller');
    expect(manualEntryFor('ERR-3', 'industrial_controller')).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.cause) && Object.isFrozen(a.parts)).toBe(true);
  });

  it('gives ERR-3 its household meaning on a meter and the flow-meter battery on a controller', () => {
    const household = manualEntryFor('ERR-3', 'household_meter');
    const controller = manualEntryFor('ERR-3', 'industrial_controller');
    expect(household.cause['zh-CN']).toContain('死表');
    expect(household.toolCard['zh-CN']).toContain('维修卡');
    expect(controller.cause['zh-CN']).toContain('流量计电池');
    expect(controller.toolCard['zh-CN']).toBe('故障恢复卡');
    expect(controller.cause).not.toEqual(household.cause);
    expect(manualEntryFor('ERR-3', 'flow_meter')).toBe(controller);
    expect(manualEntryFor('ERR-4', 'industrial_controller').remedy['zh-CN']).toContain('故障恢复卡');
  });

  it('tells ERR-1 on a meter (magnet, reed switch) from ERR-1 on a controller (its battery)', () => {
    expect(manualEntryFor('ERR-1', 'household_meter').parts.map((p) => p['zh-CN'])).toEqual(['防磁干簧管']);
    expect(manualEntryFor('ERR-1', 'industrial_controller').cause['zh-CN']).toContain('控制器内电池低电');
    expect(manualEntryFor('ERR-1', 'industrial_controller').remedy['zh-CN']).toContain('厂商');
  });

  it('never sends the controller repair card, which initialises (wipes) a controller', () => {
    for (const condition of CONDITIONS) {
      const card = manualEntryFor(condition, 'industrial_controller').toolCard['zh-CN'];
      if (card.includes('维修卡')) expect(card, condition).toContain('勿用维修卡');
    }
  });

  it('says ERR-2 is not in the manual', () => {
    for (const kind of KINDS) {
      const e = manualEntryFor('ERR-2', kind);
      expect(e.source).toMatch(/^not in the repair manual/);
      expect(e.cause.en).toMatch(/does not list ERR-2/);
    }
  });

  it('uses the Qianfeng section for Qianfeng meters, case-insensitively, and Meihua otherwise', () => {
    const qf = manualEntryFor('LOW_BATTERY', 'household_meter', 'Qianfeng');
    expect(qf).toBe(manualEntryFor('LOW_BATTERY', 'household_meter', 'qianfeng'));
    expect(qf.cause['zh-CN']).toContain('4.0V');
    expect(qf.parts.map((p) => p.en)).toContain('battery-box springs');
    expect(manualEntryFor('LOW_BATTERY', 'household_meter', 'meihua')).not.toBe(qf);
    expect(manualEntryFor('LOW_BATTERY', 'household_meter', 'acme')).toBe(manualEntryFor('LOW_BATTERY', 'household_meter'));
    expect(manualEntryFor('DEVICE_FAULT', 'household_meter', 'qianfeng').title['zh-CN']).toContain('安全保护');
    expect(manualEntryFor('ERR-5', 'household_meter', 'qianfeng').toolCard['zh-CN']).toContain('回收转移卡');
    expect(manualEntryFor('SELF_METERING', 'household_meter', 'qianfeng').toolCard['zh-CN']).toContain('回收转移卡');
    // Vendors only refine their own kind.
    expect(manualEntryFor('LOW_BATTERY', 'industrial_controller', 'qianfeng')).toBe(manualEntryFor('LOW_BATTERY', 'industrial_controller'));
  });

  it('splits battery faults by kind: controller internal/external supply, flow-meter supplier', () => {
    expect(manualEntryFor('LOW_BATTERY', 'industrial_controller').cause['zh-CN']).toContain('外电');
    expect(manualEntryFor('VALVE_CLOSED_LOW_BATTERY', 'industrial_controller').cause['zh-CN']).toContain('内电池');
    expect(manualEntryFor('LOW_BATTERY', 'flow_meter').remedy['zh-CN']).toContain('流量计供应商');
    expect(manualEntryFor('VALVE_CLOSED_LOW_BATTERY', 'household_meter').cause['zh-CN']).toContain('无气可用');
  });

  it('splits the fault and tamper causes of an industrial controller (cover opened, water on the board)', () => {
    const fault = manualEntryFor('DEVICE_FAULT', 'industrial_controller');
    expect(fault.cause['zh-CN']).toContain('盒盖被打开');
    expect(fault.cause['zh-CN']).toContain('进水短路');
    expect(manualEntryFor('TAMPER', 'industrial_controller').cause['zh-CN']).toContain('盒盖被打开');
    expect(manualEntryFor('TAMPER', 'household_meter').cause['zh-CN']).toContain('强磁干扰');
  });

  it('splits overload by kind: meter fault card, flow-meter slow opening, alarm-controller load', () => {
    const meter = manualEntryFor('OVERLOAD', 'household_meter');
    const flow = manualEntryFor('OVERLOAD', 'flow_meter');
    const alarm = manualEntryFor('OVERLOAD', 'alarm_controller');
    expect(meter.toolCard['zh-CN']).toContain('故障卡');
    expect(flow.remedy['zh-CN']).toContain('不少于15s');
    expect(flow.cause['zh-CN']).toContain('轴承');
    expect(alarm.cause['zh-CN']).toContain('额定容量');
    expect(new Set([meter, flow, alarm]).size).toBe(3);
  });

  it('splits sensor faults: home alarm power-cycle, flow-meter temperature/pressure', () => {
    expect(manualEntryFor('SENSOR_FAULT', 'home_gas_alarm').remedy['zh-CN']).toContain('10分钟');
    expect(manualEntryFor('SENSOR_FAULT', 'flow_meter').cause['zh-CN']).toContain('温度');
  });

  it('treats gas alarms and an uncut valve as emergencies', () => {
    for (const condition of ['GAS_ALARM_L1', 'GAS_ALARM_L2'] as const) {
      for (const kind of ['home_gas_alarm', 'alarm_controller'] as const) {
        const e = manualEntryFor(condition, kind);
        expect(e.remedy['zh-CN']).toMatch(/^紧急处理/);
        expect(e.remedy['zh-CN']).toContain('爆炸或有毒气体');
      }
    }
    expect(manualEntryFor('GAS_ALARM_L1', 'home_gas_alarm').remedy['zh-CN']).toContain('电磁阀');
    expect(manualEntryFor('VALVE_NOT_CUT', 'home_gas_alarm').remedy.en).toMatch(/^Safety-critical/);
    expect(manualEntryFor('VALVE_NOT_CUT').parts.map((p) => p['zh-CN'])).toContain('电磁阀');
  });

  it('keeps balance notices for the customer: no card, no parts', () => {
    for (const condition of ['LOW_BALANCE', 'NO_BALANCE'] as const) {
      const e = manualEntryFor(condition, 'household_meter');
      expect(e.toolCard).toEqual({ 'zh-CN': '无', en: 'none' });
      expect(e.parts).toEqual([]);
      expect(e.remedy['zh-CN']).toContain('营业厅');
    }
  });

  it('carries the manual figures: 180 V mains, 5 m³ balance, 2~3 month lubrication, --F', () => {
    expect(manualEntryFor('MAIN_POWER_UNDERVOLTAGE', 'alarm_controller').cause['zh-CN']).toContain('180伏');
    expect(manualEntryFor('LOW_BALANCE').cause['zh-CN']).toContain('5方');
    expect(manualEntryFor('MAINTENANCE_DUE', 'flow_meter').cause['zh-CN']).toContain('2~3月');
    expect(manualEntryFor('DETECTOR_OFFLINE', 'alarm_controller').cause['zh-CN']).toContain('--F');
    expect(manualEntryFor('SELF_METERING', 'flow_meter').source).toContain('506');
  });

  it('answers without a kind (gateway alerts) and for an unknown condition', () => {
    expect(manualEntryFor('GATEWAY_OFFLINE').title['zh-CN']).toBe('网关离线');
    expect(manualEntryFor('NO_SIGNAL', 'home_gas_alarm')).not.toBe(manualEntryFor('NO_SIGNAL', 'household_meter'));
    expectEntry(manualEntryFor('NOT_A_CONDITION' as Condition), 'unknown');
  });
});

describe('messages', () => {
  it('names every condition, severity and kind in both languages', () => {
    for (const c of CONDITIONS) expectText(conditionName(c), c);
    for (const s of SEVERITIES) expectText(severityName(s), s);
    for (const k of DEVICE_KINDS) expectText(deviceKindName(k), k);
    expect(SEVERITIES.map((s) => severityName(s)['zh-CN'])).toEqual(['紧急', '高', '中', '低', '提示']);
    expect(deviceKindName('household_meter')).toEqual({ 'zh-CN': '民用智能燃气表', en: 'household smart gas meter' });
    expect(vendorName('QianFeng')?.['zh-CN']).toBe('前锋');
    expect(vendorName('acme')).toBeUndefined();
    expect(vendorName('toString')).toBeUndefined();
  });

  it('formats bilingual text zh-CN first, English beside', () => {
    expect(bilingual({ 'zh-CN': '强磁干扰', en: 'Magnetic interference' })).toBe('强磁干扰 / Magnetic interference');
    expect(bilingual(manualEntryFor('ERR-1', 'household_meter').title)).toMatch(/^\p{Script=Han}.* \/ [A-Z]/u);
  });
});
