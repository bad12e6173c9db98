import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { parseMapSettings, type MapSettings } from '../../../registry/map-settings.ts';
import { AlertBook } from '../../alert-book.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const ADMIN = 'map-admin-token';
const TECH = 'map-tech-token';
const auth = { authorization: `Bearer ${ADMIN}` };
const AT = Date.parse('2026-11-23T02:00:00Z');
const AUTONAVI = 'https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}';
// eviltransform's Shanghai reference point, WGS-84 and GCJ-02.
const WGS = { lat: 31.1774276, lon: 121.5272106 };
const GCJ = { lat: 31.17530398364597, lon: 121.531541859215 };

async function api(map?: MapSettings): Promise<{ app: FastifyInstance; alerts: AlertBook }> {
  const alerts = new AlertBook({ historyLimit: 100, compactAfterLines: 100, fsync: false });
  alerts.apply([
    { type: 'raise', subject: 'device', subjectId: 'HA-1', gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT },
    { type: 'raise', subject: 'device', subjectId: 'HA-2', gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L1', severity: 'critical', atMs: AT },
  ]);
  const tokens = new TokenBook();
  tokens.add(ADMIN, { name: 'admin', role: 'admin' });
  tokens.add(TECH, { name: 'phone', role: 'technician', personId: 'P-1' });
  const app = await buildHttpApi({
    alerts,
    registry: new DeviceRegistry([
      { deviceId: 'HA-1', kind: 'home_gas_alarm', address: '人民路 1 号', ...WGS },
      { deviceId: 'HA-2', kind: 'home_gas_alarm', address: '人民路 2 号' },
    ]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    ...(map ? { map } : {}),
  }, pino({ level: 'silent' }));
  return { app, alerts };
}

describe('map settings and points in the API (issue 17 #1)', () => {
  describe('without a map section: WGS-84, the plain map', () => {
    let app: FastifyInstance;
    beforeAll(async () => ({ app } = await api()));
    afterAll(() => app.close());

    it('tells any role there is no tile source, and alert points are as registered', async () => {
      const res = await app.inject({ url: '/api/v1/console/settings', headers: { authorization: `Bearer ${TECH}` } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ map: { crs: 'wgs84', tiles: null, center: null, zoom: 12 } });
      expect((await app.inject({ url: '/api/v1/console/settings' })).statusCode).toBe(401);
      const items = (await app.inject({ url: '/api/v1/alerts?state=active', headers: auth })).json().items as Array<Record<string, unknown>>;
      expect(items.find((i) => i.deviceId === 'HA-1')).toMatchObject(WGS);
      // A device without a point has none: no 0,0 in the Gulf of Guinea.
      expect(items.find((i) => i.deviceId === 'HA-2')).not.toHaveProperty('lat');
    });

    it('keeps images to this origin', async () => {
      const page = await app.inject({ url: '/console/' });
      expect(page.headers['content-security-policy']).toContain("img-src 'self' data:;");
    });

    it('takes lat/lon in PUT /devices/:id, checked, and gives them back', async () => {
      const put = await app.inject({ method: 'PUT', url: '/api/v1/devices/HA-3', headers: auth, payload: { kind: 'home_gas_alarm', lat: 31.23, lon: 121.47 } });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({ deviceId: 'HA-3', lat: 31.23, lon: 121.47 });
      expect((await app.inject({ url: '/api/v1/devices/HA-3', headers: auth })).json()).toMatchObject({ lat: 31.23, lon: 121.47, record: { lat: 31.23, lon: 121.47 } });
      for (const [payload, field] of [
        [{ kind: 'home_gas_alarm', lat: 95, lon: 121 }, 'lat'],
        [{ kind: 'home_gas_alarm', lat: 31, lon: '121' }, 'lon'],
        [{ kind: 'home_gas_alarm', lat: 31 }, 'lon'],
      ] as const) {
        const bad = await app.inject({ method: 'PUT', url: '/api/v1/devices/HA-3', headers: auth, payload });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().message).toContain(field);
      }
    });
  });

  describe('a WGS-84 registry on GCJ-02 tiles (AutoNavi)', () => {
    let app: FastifyInstance;
    let alerts: AlertBook;
    const map = parseMapSettings({ tiles: { urlTemplate: AUTONAVI, crs: 'gcj02', subdomains: '1234', attribution: '© 高德地图' }, center: WGS, zoom: 14 });
    beforeAll(async () => ({ app, alerts } = await api(map)));
    afterAll(() => app.close());

    it('serves the tile source and converts points and the first view into its system', async () => {
      const settings = (await app.inject({ url: '/api/v1/console/settings', headers: auth })).json();
      expect(settings.map).toMatchObject({ crs: 'gcj02', tiles: { urlTemplate: AUTONAVI, subdomains: '1234', attribution: '© 高德地图', maxZoom: 18 }, zoom: 14 });
      expect(settings.map.center.lat).toBeCloseTo(GCJ.lat, 9);
      const [item] = (await app.inject({ url: '/api/v1/alerts?deviceId=HA-1', headers: auth })).json().items;
      expect(item.lat).toBeCloseTo(GCJ.lat, 9);
      expect(item.lon).toBeCloseTo(GCJ.lon, 9);
      expect((await app.inject({ url: `/api/v1/alerts/${item.id}`, headers: auth })).json().lon).toBeCloseTo(GCJ.lon, 9);
      // The stream's items are built the same way.
      const seen = (await app.inject({ method: 'POST', url: `/api/v1/alerts/${item.id}/seen`, headers: auth })).json();
      expect(seen.lat).toBeCloseTo(GCJ.lat, 9);
      expect(alerts.get(item.id)?.seen).toBeDefined();
    });

    it('lets the console load the tiles, and nothing else from elsewhere', async () => {
      const csp = (await app.inject({ url: '/console/' })).headers['content-security-policy'];
      expect(csp).toContain("img-src 'self' data: https://webrd01.is.autonavi.com https://webrd02.is.autonavi.com https://webrd03.is.autonavi.com https://webrd04.is.autonavi.com;");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("script-src 'self'");
    });
  });
});
