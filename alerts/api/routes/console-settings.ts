import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CRS } from '../../../registry/coordinates.ts';
import { DEFAULT_MAP_SETTINGS, mapCrs, mapPointOf } from '../../../registry/map-settings.ts';
import { ANY_ROLE, requireRole } from '../roles.ts';
import { GuardedErrors } from '../schemas.ts';

const Point = Type.Object({ lat: Type.Number(), lon: Type.Number() });

export const ConsoleSettings = Type.Object({
  map: Type.Object({
    crs: Type.Union(CRS.map((c) => Type.Literal(c)), { description: 'the system of alert lat/lon (GET /alerts): the tiles\', or the registry\'s on the plain map' }),
    tiles: Type.Union([
      Type.Object({
        urlTemplate: Type.String({ description: 'XYZ tile URL: {z} {x} {y}, {s} a subdomain' }),
        subdomains: Type.String({ description: 'one subdomain per character' }),
        attribution: Type.String(),
        maxZoom: Type.Integer(),
      }),
      Type.Null(),
    ], { description: 'null: no tile source, the console draws its plain map (scale and markers)' }),
    center: Type.Union([Point, Type.Null()], { description: 'the first view while no alarm has a point, in crs' }),
    zoom: Type.Integer({ description: 'zoom of that first view' }),
  }),
});

/**
 * What the console needs to know of the server's settings: for now the map's (settings `map`),
 * so a tile source is configured once on the server, not per desk.
 */
export const consoleSettingsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/console/settings', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { response: { 200: ConsoleSettings, ...GuardedErrors } },
  }, async () => {
    const map = app.services.map ?? DEFAULT_MAP_SETTINGS;
    const tiles = map.tiles && { urlTemplate: map.tiles.urlTemplate, subdomains: map.tiles.subdomains, attribution: map.tiles.attribution, maxZoom: map.tiles.maxZoom };
    return { map: { crs: mapCrs(map), tiles, center: (map.center && mapPointOf(map, map.center)) ?? null, zoom: map.zoom } };
  });
};
