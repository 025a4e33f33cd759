import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.js';
import { ANONYMOUS } from '../../domain/principal.js';
import { TIERS } from '../../domain/tier.js';
import { RECORD_STATUSES } from '../../record/decision-record.js';
import type { RecordStore } from '../../record/store.js';
import { servicesOf } from '../context.js';
import type { HttpServices } from '../server.js';
import { parseBody } from '../validate.js';
import { backends, cost, explanation, overview, policy, RANGES, residency, summary, windowFor, type RangeName, type Window } from './stats.js';

/** A static file held in memory: the UI is a few small files, read once at startup. */
interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

// The page loads only its own files and calls only this gateway. Inline style is
// allowed because uPlot positions its elements with style attributes.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** web/ is found by walking up from this file, so it works from src/ (tsx) and dist/src/ alike. */
function findWebDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
    dir = dirname(dir);
  }
  return undefined;
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const web = findWebDir();
  if (web !== undefined) {
    for (const name of readdirSync(web)) {
      const ext = /^[a-z0-9-]+\.(html|js|css|svg)$/.exec(name)?.[1];
      if (ext !== undefined) assets.set(name, { type: TYPES[ext] ?? 'application/octet-stream', body: readFileSync(join(web, name)) });
    }
  }
  // uPlot is vendored from node_modules at startup: no CDN, no bundler, same version as package-lock.
  const require = createRequire(import.meta.url);
  try {
    assets.set('uplot.js', { type: TYPES.js as string, body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')) });
    assets.set('uplot.css', { type: TYPES.css as string, body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) });
  } catch {
    // Without uPlot the pages still show their tables; charts say they are unavailable.
  }
  return assets;
}

const rangeQuery = z.object({ range: z.enum(Object.keys(RANGES) as [RangeName, ...RangeName[]]).default('24h') });

const recordsQuery = z.object({
  range: z.enum(Object.keys(RANGES) as [RangeName, ...RangeName[]]).default('24h'),
  tier: z.enum(TIERS).optional(),
  level: z.string().min(1).max(100).optional(),
  rule: z.string().min(1).max(200).optional(),
  team: z.string().min(1).max(200).optional(),
  workload: z.string().min(1).max(200).optional(),
  status: z.enum(RECORD_STATUSES as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const recordId = z.strictObject({ id: z.string().min(1).max(200) });

/**
 * The dashboard: `GET /ui` and its static files (no data, no authentication: they
 * hold nothing but code), and the read-only JSON it calls under /admin, which the
 * onRequest hook authenticates and `guard` authorises for admin or viewer.
 */
export function registerDashboardRoutes(app: FastifyInstance): void {
  const assets = loadAssets();

  const sendAsset = (reply: FastifyReply, name: string): FastifyReply => {
    const asset = assets.get(name);
    if (asset === undefined) throw new GatewayError('not_found', 'No such dashboard file.');
    return reply
      .type(asset.type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // Small files, and a stale UI after an upgrade would be confusing: always revalidate.
      .header('cache-control', 'no-cache')
      .send(asset.body);
  };
  app.get('/ui', async (_request, reply) => sendAsset(reply, 'index.html'));
  app.get('/ui/', async (_request, reply) => sendAsset(reply, 'index.html'));
  app.get('/ui/assets/:name', async (request, reply) => sendAsset(reply, parseBody(z.object({ name: z.string().max(100) }), request.params).name));

  const guard = (request: FastifyRequest): HttpServices => {
    const services = servicesOf(request);
    services.authorizer.authorizeAdmin(request.principal ?? ANONYMOUS, 'read');
    return services;
  };
  const store = (services: HttpServices): RecordStore => {
    const s = services.dashboard.records;
    if (s === undefined) throw new GatewayError('not_found', 'Decision records are disabled (records.enabled: false), so the dashboard has no data.');
    return s;
  };
  const windowOf = (request: FastifyRequest): Window => windowFor(parseBody(rangeQuery, request.query).range, Date.now());
  // These answers change with every request served, and name teams and rules: no cache may keep one.
  const noStore = (reply: FastifyReply): void => {
    reply.header('cache-control', 'no-store');
  };

  app.get('/admin/stats/overview', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const w = windowOf(request);
    return { period: w, ...(await overview(s.dashboard, store(s), w)) };
  });
  app.get('/admin/stats/cost', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const w = windowOf(request);
    return { period: w, ...(await cost(s.dashboard, store(s), w)) };
  });
  app.get('/admin/stats/residency', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const w = windowOf(request);
    return { period: w, ...(await residency(s.dashboard, s.dashboard.records, s.audit, w)) };
  });
  app.get('/admin/stats/backends', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const w = windowOf(request);
    return { period: w, ...(await backends(s.dashboard, s.dashboard.records, w)) };
  });
  app.get('/admin/stats/policy', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const w = windowOf(request);
    return { period: w, ...(await policy(s.dashboard, s.dashboard.records, w)) };
  });

  app.get('/admin/records', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const q = parseBody(recordsQuery, request.query);
    const w = windowFor(q.range, Date.now());
    const filter = {
      since: w.since,
      until: w.until,
      ...(q.tier === undefined ? {} : { tier: q.tier }),
      ...(q.level === undefined ? {} : { level: q.level }),
      ...(q.rule === undefined ? {} : { rule: q.rule }),
      ...(q.team === undefined ? {} : { team: q.team }),
      ...(q.workload === undefined ? {} : { workload: q.workload }),
      ...(q.status === undefined ? {} : { status: q.status as (typeof RECORD_STATUSES)[number] }),
    };
    const st = store(s);
    const [rows, total] = await Promise.all([st.query(filter, { limit: q.limit, offset: q.offset }), st.count(filter)]);
    return { period: w, total, limit: q.limit, offset: q.offset, data: rows.map(summary) };
  });

  app.get('/admin/records/:id', async (request, reply) => {
    const s = guard(request);
    noStore(reply);
    const { id } = parseBody(recordId, request.params);
    const [record] = await store(s).query({ requestId: id }, { limit: 1 });
    if (record === undefined) throw new GatewayError('not_found', 'No decision record with that request id.');
    return explanation(s.dashboard, record);
  });
}
