import gcoordModule from 'gcoord';
import { Type, type Static } from '@sinclair/typebox';

// gcoord's CommonJS entry is `module.exports = exported`, but its types declare `export default`,
// which NodeNext reads as `module.exports.default`: the default import is the object itself.
const gcoord = gcoordModule as unknown as (typeof gcoordModule)['default'];

/**
 * The coordinate systems a registry or a tile source may use: WGS-84 (GPS, OpenStreetMap, Grafana's
 * base maps) and GCJ-02, the offset system every base map published in China must use (AutoNavi /
 * Gaode, Tencent). A point drawn on a map of the other system lands a few hundred metres off.
 */
export const CRS = ['wgs84', 'gcj02'] as const;

/** A setting naming a system: wgs84 when not given. */
export function crsSchema(description: string) {
  return Type.Union(CRS.map((c) => Type.Literal(c)), { default: 'wgs84', description: `${description}: wgs84 (GPS, OpenStreetMap) or gcj02 (base maps published in China)` });
}
export type Crs = Static<ReturnType<typeof crsSchema>>;

export interface LatLon {
  lat: number;
  lon: number;
}

const GCOORD_CRS = { wgs84: gcoord.WGS84, gcj02: gcoord.GCJ02 } as const;

/**
 * `point` from one system to the other (gcoord: the published transform forward, an iterative
 * inverse back, exact to millimetres). Outside China the systems agree and the point is returned
 * as it is, as it is when both systems are the same.
 */
export function convertPoint(point: LatLon, from: Crs, to: Crs): LatLon {
  if (from === to) return point;
  const [lon, lat] = gcoord.transform([point.lon, point.lat], GCOORD_CRS[from], GCOORD_CRS[to]);
  return { lat, lon };
}

/** The point of a registry record, when it has one (the registry checks that lat and lon come together). */
export function pointOf(record: { lat?: unknown; lon?: unknown } | undefined): LatLon | undefined {
  const lat = record?.lat;
  const lon = record?.lon;
  return typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : undefined;
}
