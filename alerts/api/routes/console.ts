import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The committed bundle (`npm run console:build`), so a production install needs no build tools. */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

export interface ConsoleOptions {
  /** Folder holding the built console (index.html, assets/). @defaultValue CONSOLE_DIST_DIR */
  rootDir?: string;
  /** Origins images may also come from: the map's tile source (settings `map.tiles`). @defaultValue [] */
  imgSources?: readonly string[];
}

/**
 * Scripts and data only from this origin, images also from the map's tile source; ECharts,
 * Leaflet and Preact set inline styles, so styles may be inline. The API is same-origin, so
 * connect-src 'self' covers fetch and EventSource.
 */
export function contentSecurityPolicy(imgSources: readonly string[] = []): string {
  const img = ["'self'", 'data:', ...imgSources].join(' ');
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src ${img}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
}

/**
 * The built-in web console under `/console/`, and `/` sends a browser there. Registered at the
 * root, outside `/api/v1`: the page itself is public, every call it makes carries the token.
 * Refuses to start when the bundle is missing rather than serve 404s to the control room.
 */
export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const rootDir = opts.rootDir ?? CONSOLE_DIST_DIR;
  const policy = contentSecurityPolicy(opts.imgSources);
  if (!existsSync(join(rootDir, 'index.html'))) {
    throw new Error(`The web console bundle is missing (${join(rootDir, 'index.html')}); run npm run console:build`);
  }

  const toConsole = { schema: { hide: true, response: { 302: Type.Null() } } };
  app.get('/', toConsole, async (_request, reply) => reply.redirect('/console/', 302));
  // Relative asset URLs need the trailing slash.
  app.get('/console', toConsole, async (_request, reply) => reply.redirect('/console/', 302));
  // Ticket links pushed before the console's hash routes were used in them still open the ticket.
  const toTicket = { schema: { hide: true, params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$' }) }), response: { 302: Type.Null() } } };
  app.get<{ Params: { id: string } }>('/console/tickets/:id', toTicket, async (request, reply) => reply.redirect(`/console/#/tickets/${request.params.id}`, 302));

  await app.register(fastifyStatic, {
    root: rootDir,
    prefix: '/console/',
    decorateReply: false,
    setHeaders(reply, path) {
      reply.header('content-security-policy', policy);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      // Asset names carry their content hash; index.html must be re-read to pick up a new build.
      reply.header('cache-control', path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};
