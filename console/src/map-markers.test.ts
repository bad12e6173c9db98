import { describe, expect, it } from 'vitest';
import type { Alert, Ticket } from './api.ts';
import { graticuleLabel, graticuleStep, MarkerIndex, mapPoints, worstSeverity, type BBox } from './map-markers.ts';

const WORLD: BBox = [-180, -85, 180, 85];

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    deviceId: id.replace(/^a-/, ''),
    gatewayId: 'GW-1',
    subject: 'device',
    condition: 'GAS_ALARM_L2',
    severity: 'critical',
    state: 'active',
    raisedAt: '2026-11-23T02:00:00.000Z',
    clearedAt: null,
    cause: '',
    remedy: '',
    toolCard: { 'zh-CN': '', en: '' },
    parts: [],
    ...over,
  };
}

function incident(id: string, devices: string[], over: Partial<Ticket> = {}): Ticket {
  return {
    id,
    subject: 'district',
    origin: 'alert',
    contact: null,
    description: null,
    complaintClass: null,
    complaintKind: null,
    subjectId: '城东区',
    deviceId: null,
    gatewayId: null,
    kind: null,
    district: '城东区',
    address: null,
    customer: null,
    lat: null,
    lon: null,
    conditions: ['POWER_LOST'],
    activeConditions: ['POWER_LOST'],
    devices,
    priority: 'normal',
    status: 'dispatched',
    openedAt: '2026-11-23T02:00:00.000Z',
    acknowledgedAt: null,
    onSiteAt: null,
    resolvedAt: null,
    assignee: null,
    slaDueAt: null,
    followUpDueAt: null,
    manual: [],
    escalationStep: 0,
    escalatedAt: null,
    updatedAt: '2026-11-23T02:00:00.000Z',
    ...over,
  };
}

describe('alarm map markers', () => {
  it('places each device with alarms and a point, coloured by its worst; counts the alarms without', () => {
    const { points, unplaced } = mapPoints([
      alert('a-HA-1', { lat: 31.23, lon: 121.47, condition: 'VALVE_NOT_CUT', severity: 'high', raisedAt: '2026-11-23T02:00:01.000Z' }),
      alert('a-HM-2', { severity: 'medium', condition: 'ERR-4', lat: 31.24, lon: 121.48 }),
      alert('a-HA-3'),
      alert('a-HA-1-leak', { deviceId: 'HA-1', lat: 31.23, lon: 121.47 }),
    ], []);
    expect(points.map((p) => [p.kind, p.key, p.severity, p.alerts.map((a) => a.condition)])).toEqual([
      ['device', 'device:HA-1', 'critical', ['GAS_ALARM_L2', 'VALVE_NOT_CUT']],
      ['device', 'device:HM-2', 'medium', ['ERR-4']],
    ]);
    expect(unplaced.map((a) => a.id)).toEqual(['a-HA-3']);
  });

  it('folds an incident ticket’s alarms into one marker with its device count, at their centroid, coloured by the worst', () => {
    const cut = Array.from({ length: 4 }, (_, i) => alert(`a-HA-PC${i}`, { condition: 'POWER_LOST', severity: i === 3 ? 'high' : 'medium', lat: 31.2 + i * 0.01, lon: 121.4 }));
    // A leak on one of the incident's devices is not part of it: leaks never fold.
    const leak = alert('a-HA-PC0-leak', { deviceId: 'HA-PC0', lat: 31.2, lon: 121.4 });
    const ticket = incident('T000007', ['HA-PC0', 'HA-PC1', 'HA-PC2', 'HA-PC3', 'HA-PC4']);
    const { points, unplaced } = mapPoints([...cut, leak], [ticket, incident('T000009', [], { subject: 'device' })]);
    expect(unplaced).toEqual([]);
    expect(points.map((p) => p.key)).toEqual(['ticket:T000007', 'device:HA-PC0']);
    const folded = points[0]!;
    expect(folded).toMatchObject({ kind: 'incident', severity: 'high', deviceCount: 5 });
    expect(folded.lat).toBeCloseTo(31.215, 9);
    expect(folded.lon).toBeCloseTo(121.4, 9);
  });

  it('places a gateway’s offline incident at the gateway, saying how many devices are behind it', () => {
    const gw = alert('a-GW-1', { deviceId: 'GW-1', subject: 'gateway', condition: 'GATEWAY_OFFLINE', severity: 'high', lat: 31.3, lon: 121.5 });
    const ticket = incident('T000010', ['HM-1', 'HM-2', 'HM-3'], { subject: 'gateway', subjectId: 'GW-1', conditions: ['GATEWAY_OFFLINE'], activeConditions: ['GATEWAY_OFFLINE'] });
    const { points } = mapPoints([gw], [ticket]);
    expect(points).toHaveLength(1);
    expect(points[0]).toMatchObject({ kind: 'incident', key: 'ticket:T000010', lat: 31.3, lon: 121.5, deviceCount: 3 });
  });

  it('leaves an incident none of whose alarms has a point off the map, its alarms unplaced', () => {
    const { points, unplaced } = mapPoints([alert('a-HA-9', { deviceId: 'HA-9', condition: 'POWER_LOST' })], [incident('T000011', ['HA-9'])]);
    expect(points).toEqual([]);
    expect(unplaced.map((a) => a.id)).toEqual(['a-HA-9']);
  });

  it('clusters nearby alarms when zoomed out and splits them when zoomed in', () => {
    // Three alarms within ~200 m in one block, one 5 km away.
    const alerts = [
      alert('a-1', { lat: 31.2300, lon: 121.4700, severity: 'medium', condition: 'ERR-4' }),
      alert('a-2', { lat: 31.2310, lon: 121.4710 }),
      alert('a-3', { lat: 31.2290, lon: 121.4720, severity: 'low', condition: 'LOW_BATTERY' }),
      alert('a-4', { lat: 31.2750, lon: 121.4700, severity: 'high', condition: 'VALVE_NOT_CUT' }),
    ];
    const index = new MarkerIndex(mapPoints(alerts, []).points);
    const far = index.markers(WORLD, 8);
    expect(far).toHaveLength(1);
    expect(far[0]).toMatchObject({ type: 'cluster', alarms: 4, markers: 4, severity: 'critical' });
    const street = index.markers(WORLD, 13);
    const block = street.find((m) => m.type === 'cluster');
    expect(block).toMatchObject({ type: 'cluster', alarms: 3, severity: 'critical' });
    expect(street.filter((m) => m.type === 'point').map((m) => m.type === 'point' && m.point.key)).toEqual(['device:4']);
    // Clicking the block zooms to where it falls apart.
    const zoom = index.expansionZoom((block as { id: number }).id);
    expect(zoom).toBeGreaterThan(13);
    expect(index.markers(WORLD, 18).every((m) => m.type === 'point')).toBe(true);
    // Only what lies in the view is drawn.
    expect(index.markers([121.46, 31.27, 121.48, 31.28], 18).map((m) => m.type === 'point' && m.point.key)).toEqual(['device:4']);
  });

  it('counts an incident in a cluster by the alarms it folds', () => {
    const cut = Array.from({ length: 12 }, (_, i) => alert(`a-PC${i}`, { deviceId: `HA-PC${i}`, condition: 'POWER_LOST', severity: 'medium', lat: 31.23 + i * 0.0001, lon: 121.47 }));
    const leak = alert('a-leak', { lat: 31.2302, lon: 121.4702 });
    const index = new MarkerIndex(mapPoints([...cut, leak], [incident('T000012', cut.map((a) => a.deviceId))]).points);
    expect(index.markers(WORLD, 10)).toEqual([expect.objectContaining({ type: 'cluster', alarms: 13, markers: 2, severity: 'critical' })]);
  });

  it('picks the worst severity, unknown ones last', () => {
    expect(worstSeverity(['low', 'high', 'medium'])).toBe('high');
    expect(worstSeverity(['weird', 'info'])).toBe('info');
    expect(worstSeverity([])).toBe('info');
  });

  it('spaces the plain map’s graticule to a handful of lines at every zoom', () => {
    for (let zoom = 2; zoom <= 18; zoom++) {
      const degreesAcross = (1366 * 360) / (256 * 2 ** zoom);
      const lines = degreesAcross / graticuleStep(zoom);
      expect(lines, `zoom ${zoom}`).toBeGreaterThanOrEqual(3);
      expect(lines, `zoom ${zoom}`).toBeLessThanOrEqual(20);
    }
  });

  it('labels graticule lines with the decimals their step needs', () => {
    expect(graticuleLabel(31.25, 0.05, 'lat')).toBe('31.25°N');
    expect(graticuleLabel(121.4500000001, 0.05, 'lon')).toBe('121.45°E');
    expect(graticuleLabel(-33.9, 0.1, 'lat')).toBe('33.9°S');
    expect(graticuleLabel(-70, 10, 'lon')).toBe('70°W');
    expect(graticuleLabel(0, 0.001, 'lat')).toBe('0.000°');
  });
});
