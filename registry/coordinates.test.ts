import { describe, expect, it } from 'vitest';
import { convertPoint, pointOf } from './coordinates.ts';

/**
 * Published reference points of the WGS-84 → GCJ-02 transform: the test vectors of eviltransform
 * (googollee/eviltransform, the same in its Go, Python, Haskell, C# and Ruby tests), WGS then GCJ.
 */
const REFERENCE = [
  { place: 'Shanghai', wgs84: { lat: 31.1774276, lon: 121.5272106 }, gcj02: { lat: 31.17530398364597, lon: 121.531541859215 } },
  { place: 'Shenzhen', wgs84: { lat: 22.543847, lon: 113.912316 }, gcj02: { lat: 22.540796131694766, lon: 113.9171764808363 } },
  { place: 'Beijing', wgs84: { lat: 39.911954, lon: 116.377817 }, gcj02: { lat: 39.91334545536069, lon: 116.38404722455657 } },
];

/** Metres between two nearby points (equirectangular: plenty for a few hundred metres). */
function metres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const r = 6_371_000;
  const x = ((b.lon - a.lon) * Math.PI) / 180 * Math.cos(((a.lat + b.lat) / 2) * (Math.PI / 180));
  const y = ((b.lat - a.lat) * Math.PI) / 180;
  return r * Math.hypot(x, y);
}

describe('coordinate systems', () => {
  it.each(REFERENCE)('WGS-84 → GCJ-02 gives the published point: $place', ({ wgs84, gcj02 }) => {
    const got = convertPoint(wgs84, 'wgs84', 'gcj02');
    expect(got.lat).toBeCloseTo(gcj02.lat, 9);
    expect(got.lon).toBeCloseTo(gcj02.lon, 9);
    // The offset is what a map in the wrong system shows: hundreds of metres.
    expect(metres(wgs84, gcj02)).toBeGreaterThan(300);
  });

  it.each(REFERENCE)('GCJ-02 → WGS-84 comes back within a centimetre: $place', ({ wgs84, gcj02 }) => {
    expect(metres(convertPoint(gcj02, 'gcj02', 'wgs84'), wgs84)).toBeLessThan(0.01);
  });

  it('leaves a point alone in its own system, and outside China where both systems agree', () => {
    const p = { lat: 31.2, lon: 121.5 };
    expect(convertPoint(p, 'gcj02', 'gcj02')).toBe(p);
    expect(convertPoint({ lat: 39.7392, lon: -104.9903 }, 'wgs84', 'gcj02')).toEqual({ lat: 39.7392, lon: -104.9903 });
  });

  it('reads a record’s point only when both numbers are there', () => {
    expect(pointOf({ lat: 31.2, lon: 121.5 })).toEqual({ lat: 31.2, lon: 121.5 });
    expect(pointOf({ lat: 31.2 })).toBeUndefined();
    expect(pointOf({ lat: '31.2', lon: 121.5 })).toBeUndefined();
    expect(pointOf(undefined)).toBeUndefined();
  });
});
