import { describe, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import { alertEventLine, appendReadingLines, escapeTag, nanoTimestamp, quoteString, subMillisecondOffset } from './line-protocol.ts';

const AT = Date.UTC(2024, 2, 1, 8, 30, 15, 123);

function reading(partial: Partial<Reading>): Reading {
  return { deviceId: 'HM-1', kind: 'household_meter', at: new Date(AT).toISOString(), atMs: AT, gatewayId: 'GW-000001', receivedAtMs: AT + 50, ...partial };
}

function lines(r: Reading, districts: Record<string, string> = {}): string[] {
  const out: string[] = [];
  appendReadingLines(r, out, { districtOf: (id) => districts[id] });
  return out;
}

describe('escaping', () => {
  it.each([
    ['plain', 'plain'],
    ['a b', 'a\\ b'],
    ['a,b=c', 'a\\,b\\=c'],
    ['line\nbreak\ttab', 'line\\ break\\ tab'],
    ['back\\slash', 'back\\slash'],
    ['trailing\\', 'trailing\\\\'],
    ['朝阳区', '朝阳区'],
  ])('tag %j → %j', (input, expected) => expect(escapeTag(input)).toBe(expected));

  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['c:\\dir', '"c:\\\\dir"'],
    ['two\nlines\r', '"two lines "'],
    ['故障,关阀', '"故障,关阀"'],
  ])('string field %j → %s', (input, expected) => expect(quoteString(input)).toBe(expected));
});

describe('timestamps', () => {
  it('are the reading time in ms plus a per-device offset below one ms, as a nanosecond string', () => {
    const ts = nanoTimestamp(AT, 'HM-1');
    expect(ts).toMatch(/^\d{19}$/);
    expect(ts.slice(0, 13)).toBe(String(AT));
    expect(Number(ts.slice(13))).toBe(subMillisecondOffset('HM-1'));
    expect(Math.floor(Number(BigInt(ts) / 1_000_000n))).toBe(AT);
  });

  it('are the same for the same device and time (a redelivery overwrites itself) and differ between devices', () => {
    expect(nanoTimestamp(AT, 'HM-1')).toBe(nanoTimestamp(AT, 'HM-1'));
    const offsets = new Set(Array.from({ length: 1000 }, (_, i) => subMillisecondOffset(`HM-${i}`)));
    expect(offsets.size).toBeGreaterThan(995);
  });

  it('pads small offsets and keeps ms times before 2001 (12 digits) exact', () => {
    const ts = nanoTimestamp(999_999_999_999, 'x');
    expect(ts.slice(0, 12)).toBe('999999999999');
    expect(ts).toHaveLength(18);
  });
});

describe('reading lines', () => {
  it('household meter: tags district/gateway/kind, deviceId and values as fields, floats without i, strings quoted', () => {
    const [line, ...rest] = lines(reading({ volumeM3: 1234.5, balanceM3: 3, batteryV: 3.6, valve: 'open', vendor: 'meihua', status: ['故障', 'ERR-4'] }), { 'HM-1': 'Chaoyang North' });
    expect(rest).toEqual([]);
    expect(line).toBe(
      'household_meter,district=Chaoyang\\ North,gateway=GW-000001,kind=household_meter ' +
        'deviceId="HM-1",volumeM3=1234.5,balanceM3=3,batteryV=3.6,vendor="meihua",valve="open",status="故障,ERR-4" ' +
        nanoTimestamp(AT, 'HM-1'),
    );
  });

  it('writes district=unknown when the registry has none, and skips NaN and infinite values', () => {
    const [line] = lines(reading({ volumeM3: Number.NaN, balanceM3: Number.POSITIVE_INFINITY, batteryV: 0 }));
    expect(line).toContain(',district=unknown,');
    expect(line).toContain(' deviceId="HM-1",batteryV=0 ');
    expect(line).not.toMatch(/NaN|Infinity/);
  });

  it('industrial kinds also carry the device as a tag (tags in key order)', () => {
    const [line] = lines(reading({ deviceId: 'FM 7', kind: 'flow_meter', flowM3h: 12.25, temperatureC: -3.5, pressureKPa: 101 }));
    expect(line.startsWith('flow_meter,device=FM\\ 7,district=unknown,gateway=GW-000001,kind=flow_meter deviceId="FM 7",flowM3h=12.25,temperatureC=-3.5,pressureKPa=101 ')).toBe(true);
  });

  it('home gas alarm: lamps as booleans, buzzer as a string', () => {
    const [line] = lines(reading({ deviceId: 'HA-1', kind: 'home_gas_alarm', lelPct: 30, lamps: { power: true, fault: false, alarm: true }, buzzer: 'continuous' }));
    expect(line).toContain(' deviceId="HA-1",lelPct=30,buzzer="continuous",lampPower=true,lampFault=false,lampAlarm=true ');
    expect(line.startsWith('home_gas_alarm,district=')).toBe(true);
  });

  it('alarm controller: one line for the controller and one gas_detector line per channel, --F as sensorFault', () => {
    const out = lines(
      reading({ deviceId: 'AC-9', kind: 'alarm_controller', mainPowerV: 220, backup: 'ok', detectors: [{ channel: 1, lelPct: 12 }, { channel: '2', lelPct: null, status: ['--F'] }] }),
      { 'AC-9': 'Port' },
    );
    const ts = nanoTimestamp(AT, 'AC-9');
    expect(out).toEqual([
      `alarm_controller,device=AC-9,district=Port,gateway=GW-000001,kind=alarm_controller deviceId="AC-9",mainPowerV=220,backup="ok",detectors=2 ${ts}`,
      `gas_detector,detector=1,device=AC-9,district=Port,gateway=GW-000001 deviceId="AC-9",sensorFault=false,lelPct=12 ${ts}`,
      `gas_detector,detector=2,device=AC-9,district=Port,gateway=GW-000001 deviceId="AC-9",sensorFault=true,status="--F" ${ts}`,
    ]);
  });

  it("writes each device's own gas set points beside its concentration (the registry's, else the defaults), for the dashboards' L1/L2 lines", () => {
    const ctx = { gasSetPoints: { of: (id: string) => (id === 'AC-9' ? { l1LelPct: 20 } : id === 'HA-2' ? { l1LelPct: 15, l2LelPct: 30 } : undefined), defaults: { l1LelPct: 25, l2LelPct: 50 } } };
    const out: string[] = [];
    appendReadingLines(reading({ deviceId: 'AC-9', kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: 12 }, { channel: 2, lelPct: null }] }), out, ctx);
    appendReadingLines(reading({ deviceId: 'HA-2', kind: 'home_gas_alarm', lelPct: 3 }), out, ctx);
    appendReadingLines(reading({ deviceId: 'HA-3', kind: 'home_gas_alarm', lelPct: 0 }), out, ctx);
    appendReadingLines(reading({ deviceId: 'HA-4', kind: 'home_gas_alarm', lamps: { power: false, fault: false, alarm: false } }), out, ctx);
    expect(out[1]).toContain('lelPct=12,l1LelPct=20,l2LelPct=50 ');
    // A channel showing --F has no concentration, so no set points either.
    expect(out[2]).not.toContain('l1LelPct');
    expect(out[3]).toContain(',l1LelPct=15,l2LelPct=30 ');
    expect(out[4]).toContain(',l1LelPct=25,l2LelPct=50 ');
    expect(out[5]).not.toContain('l1LelPct');
  });

  it('gives no line for a reading without a usable time', () => {
    expect(lines(reading({ atMs: Number.NaN }))).toEqual([]);
  });
});

describe('alert event lines', () => {
  const event: AlertEvent = { type: 'raise', subject: 'device', subjectId: 'AC-9', gatewayId: 'GW-000001', kind: 'alarm_controller', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT, detail: { lelPct: 55, setPointLelPct: 50 } };

  it('carries condition, severity, type as tags and the subject and a text as fields', () => {
    const line = alertEventLine(event, { districtOf: () => 'Port' })!;
    expect(line).toBe(
      'alert_events,condition=GAS_ALARM_L2,district=Port,kind=alarm_controller,severity=critical,type=raise ' +
        'active=1,deviceId="AC-9",gatewayId="GW-000001",text="GAS_ALARM_L2 raised on device AC-9 {\\"lelPct\\":55,\\"setPointLelPct\\":50}" ' +
        nanoTimestamp(AT, 'AC-9\u0000GAS_ALARM_L2'),
    );
  });

  it('gateway alerts have no deviceId and kind=gateway; clears are active=0', () => {
    const line = alertEventLine({ type: 'clear', subject: 'gateway', subjectId: 'GW-000002', gatewayId: 'GW-000002', condition: 'GATEWAY_OFFLINE', severity: 'high', atMs: AT })!;
    expect(line.startsWith('alert_events,condition=GATEWAY_OFFLINE,district=unknown,kind=gateway,severity=high,type=clear active=0,gatewayId="GW-000002",text="GATEWAY_OFFLINE cleared on gateway GW-000002" ')).toBe(true);
  });

  it('two devices silent in the same millisecond get different points', () => {
    const a = alertEventLine({ ...event, subjectId: 'HM-1', condition: 'NO_SIGNAL' })!;
    const b = alertEventLine({ ...event, subjectId: 'HM-2', condition: 'NO_SIGNAL' })!;
    expect(a.split(' ').at(-1)).not.toBe(b.split(' ').at(-1));
  });

  it('truncates long detail', () => {
    const line = alertEventLine({ ...event, detail: { devices: Array.from({ length: 500 }, (_, i) => `HM-${i}`) } })!;
    const text = /text="(.*)" \d+$/.exec(line)![1].replace(/\\"/g, '"');
    expect(text.length).toBeLessThanOrEqual(512);
    expect(text.endsWith('…')).toBe(true);
  });
});
