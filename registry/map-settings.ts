import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../app/errors.ts';
import { convertPoint, crsSchema, pointOf, type Crs, type LatLon } from './coordinates.ts';

const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lon = Type.Number({ minimum: -180, maximum: 180 });

/** An XYZ (slippy map, Web Mercator) tile source, as Leaflet's tileLayer takes it. */
export const MapTilesSchema = Type.Object({
  urlTemplate: Type.String({
    pattern: '^https?://[^\\s"\'<>]+$',
    maxLength: 512,
    description: 'tile URL with {z} {x} {y}, and {s} for a subdomain, e.g. https://tiles.example.cn/{z}/{x}/{y}.png',
  }),
  crs: crsSchema("the tiles' system"),
  subdomains: Type.String({ default: '', pattern: '^[A-Za-z0-9]{0,16}$', description: 'one subdomain per character, put for {s} (e.g. 1234)' }),
  attribution: Type.String({ default: '', maxLength: 256, description: 'shown in the map corner, as the tile source requires' }),
  maxZoom: Type.Integer({ minimum: 1, maximum: 22, default: 18 }),
}, { additionalProperties: false, description: 'the base map; without it the console draws a plain map (scale, markers, no tiles) that works with no tile server' });

/** Settings `map`: where registry coordinates are from and what the console draws them on. */
export const MapSettingsSchema = Type.Object({
  registryCrs: crsSchema("the system of the registry's lat/lon"),
  tiles: Type.Optional(MapTilesSchema),
  center: Type.Optional(Type.Object({ lat: Lat, lon: Lon }, { additionalProperties: false, description: 'the first view while no alarm has a point, in the registry\'s system' })),
  zoom: Type.Integer({ minimum: 1, maximum: 18, default: 12, description: 'zoom of that first view' }),
}, { additionalProperties: false, description: "the registry coordinates' system and the console map's tile source, see registry/README.md" });
export type MapSettingsInput = Static<typeof MapSettingsSchema>;

export type MapTiles = Static<typeof MapTilesSchema>;

/** The parsed settings, defaults filled in. */
export interface MapSettings {
  registryCrs: Crs;
  tiles: MapTiles | null;
  center: LatLon | null;
  zoom: number;
}

/** Refuses a bad `map` section at start, naming the field. */
export function parseMapSettings(raw: unknown, source = 'map'): MapSettings {
  const input = Value.Default(MapSettingsSchema, Value.Clone(raw ?? {})) as MapSettingsInput;
  const first = Value.Errors(MapSettingsSchema, input).First();
  if (first) throw new ConfigError(`${source}${first.path.replaceAll('/', '.')}: ${first.message}`);
  const t = input.tiles;
  if (t) {
    for (const part of ['{z}', '{x}', '{y}']) {
      if (!t.urlTemplate.includes(part)) throw new ConfigError(`${source}.tiles.urlTemplate: has no ${part}`);
    }
    if (t.urlTemplate.includes('{s}') !== (t.subdomains !== '')) {
      throw new ConfigError(`${source}.tiles.subdomains: ${t.subdomains ? 'given, but the urlTemplate has no {s}' : 'needed for the {s} of the urlTemplate'}`);
    }
  }
  return {
    registryCrs: input.registryCrs,
    tiles: t ?? null,
    center: input.center ?? null,
    zoom: input.zoom,
  };
}

/** No `map` section: a WGS-84 registry on the plain map. */
export const DEFAULT_MAP_SETTINGS: MapSettings = parseMapSettings(undefined);

/** The system points are drawn in: the tiles', or the registry's own on the plain map (nothing to line up with). */
export function mapCrs(settings: MapSettings): Crs {
  return settings.tiles?.crs ?? settings.registryCrs;
}

/** Where a registry record is on the console's map, in the map's system. */
export function mapPointOf(settings: MapSettings, record: { lat?: unknown; lon?: unknown } | undefined): LatLon | undefined {
  const p = pointOf(record);
  return p && convertPoint(p, settings.registryCrs, mapCrs(settings));
}

/** Where a registry record is in WGS-84: what the ticket store keeps, for Grafana's base maps. */
export function wgs84PointOf(settings: Pick<MapSettings, 'registryCrs'>, record: { lat?: unknown; lon?: unknown } | undefined): LatLon | undefined {
  const p = pointOf(record);
  return p && convertPoint(p, settings.registryCrs, 'wgs84');
}

/** The origins the tiles come from, for the console's Content-Security-Policy img-src. */
export function tileOrigins(tiles: Pick<MapTiles, 'urlTemplate' | 'subdomains'> | null): string[] {
  if (!tiles) return [];
  const hosts = tiles.subdomains ? [...tiles.subdomains].map((s) => tiles.urlTemplate.replaceAll('{s}', s)) : [tiles.urlTemplate];
  // The placeholders sit in the path or query, or in the host only as {s} (replaced above).
  return [...new Set(hosts.map((u) => new URL(u.replace(/\{[a-z]+\}/g, '0')).origin))];
}
