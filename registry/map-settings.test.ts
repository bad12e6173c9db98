import { describe, expect, it } from 'vitest';
import { ConfigError } from '../app/errors.ts';
import { parseSettings } from '../app/config.ts';
import { mapCrs, mapPointOf, parseMapSettings, tileOrigins, wgs84PointOf } from './map-settings.ts';

const AUTONAVI = 'https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}';
// A registry point in WGS-84 and the same place in GCJ-02 (eviltransform's Shanghai reference).
const WGS = { lat: 31.1774276, lon: 121.5272106 };
const GCJ = { lat: 31.17530398364597, lon: 121.531541859215 };

describe('map settings', () => {
  it('defaults to WGS-84 and the plain map without tiles', () => {
    expect(parseMapSettings(undefined)).toEqual({ registryCrs: 'wgs84', tiles: null, center: null, zoom: 12 });
  });

  it('takes a tile source with its system, subdomains and attribution, as part of the settings file', () => {
    const raw = { registryCrs: 'wgs84', tiles: { urlTemplate: AUTONAVI, crs: 'gcj02', subdomains: '1234', attribution: '© 高德地图' }, center: { lat: 31.2, lon: 121.5 } };
    expect(parseSettings({ map: raw }, 'test').map).toBeDefined();
    expect(parseMapSettings(raw)).toEqual({
      registryCrs: 'wgs84',
      tiles: { urlTemplate: AUTONAVI, crs: 'gcj02', subdomains: '1234', attribution: '© 高德地图', maxZoom: 18 },
      center: { lat: 31.2, lon: 121.5 },
      zoom: 12,
    });
  });

  it.each([
    [{ registryCrs: 'bd09' }, /map\.registryCrs/],
    [{ tiles: { urlTemplate: 'ftp://tiles/{z}/{x}/{y}.png' } }, /map\.tiles\.urlTemplate/],
    [{ tiles: { urlTemplate: 'https://tiles.example.cn/{z}/{x}.png' } }, /urlTemplate: has no \{y\}/],
    [{ tiles: { urlTemplate: AUTONAVI } }, /subdomains: needed for the \{s\}/],
    [{ tiles: { urlTemplate: 'https://tiles.example.cn/{z}/{x}/{y}.png', subdomains: 'abc' } }, /subdomains: given, but/],
    [{ center: { lat: 91, lon: 0 } }, /map\.center\.lat/],
    [{ zoom: 30 }, /map\.zoom/],
    [{ tileUrl: 'https://x/{z}/{x}/{y}' }, /map/],
  ])('refuses %j at start, naming the field', (raw, message) => {
    expect(() => parseMapSettings(raw)).toThrow(ConfigError);
    expect(() => parseMapSettings(raw)).toThrow(message);
  });

  it('draws in the tiles’ system, converting registry points; the plain map takes them as they are', () => {
    const onGaode = parseMapSettings({ tiles: { urlTemplate: AUTONAVI, crs: 'gcj02', subdomains: '1234' } });
    expect(mapCrs(onGaode)).toBe('gcj02');
    const p = mapPointOf(onGaode, WGS)!;
    expect(p.lat).toBeCloseTo(GCJ.lat, 9);
    expect(p.lon).toBeCloseTo(GCJ.lon, 9);

    const plain = parseMapSettings({ registryCrs: 'gcj02' });
    expect(mapCrs(plain)).toBe('gcj02');
    expect(mapPointOf(plain, GCJ)).toEqual(GCJ);
    expect(mapPointOf(plain, { lat: 31.2 })).toBeUndefined();
    // The ticket store keeps WGS-84 whatever the registry uses.
    const back = wgs84PointOf(plain, GCJ)!;
    expect(back.lat).toBeCloseTo(WGS.lat, 6);
    expect(back.lon).toBeCloseTo(WGS.lon, 6);
  });

  it('names the tile origins for the console’s Content-Security-Policy', () => {
    expect(tileOrigins(null)).toEqual([]);
    expect(tileOrigins({ urlTemplate: AUTONAVI, subdomains: '12' })).toEqual(['https://webrd01.is.autonavi.com', 'https://webrd02.is.autonavi.com']);
    expect(tileOrigins({ urlTemplate: 'http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png', subdomains: '' })).toEqual(['http://10.1.2.3:8080']);
  });
});
