import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.js';
import { ANONYMOUS, type Principal } from '../../domain/principal.js';
import { TIERS } from '../../domain/tier.js';
import type { AuditEvent } from '../../record/audit.js';
import { servicesOf } from '../context.js';
import type { HttpOptions, HttpServices } from '../server.js';
import { parseBody } from '../validate.js';

const createKey = z.strictObject({
  owner: z.string().min(1).max(200),
  team: z.string().min(1).max(200).optional(),
  roles: z.array(z.string().min(1)).optional(),
  workload: z.string().min(1).optional(),
  models: z.array(z.string().min(1)).optional(),
  tiers: z.array(z.union([z.enum(TIERS), z.literal('*')])).optional(),
  limits: z
    .strictObject({
      requestsPerMinute: z.number().int().positive().optional(),
      tokensPerMinute: z.number().int().positive().optional(),
      spendPerDayUsd: z.number().nonnegative().optional(),
      spendPerMonthUsd: z.number().nonnegative().optional(),
    })
    .optional(),
  expiresAt: z.iso.datetime().optional(),
  description: z.string().max(500).optional(),
});

const keyId = z.strictObject({ id: z.string().min(1).max(200) });

/**
 * /admin/*: keys, config and policy reload, health, policy. Callers need the admin
 * role (writes) or viewer (reads); every call is written to the audit trail, with
 * ids and outcomes, never key values.
 */
export function registerAdminRoutes(app: FastifyInstance, reload: HttpOptions['reload']): void {
  const guard = (request: FastifyRequest, access: 'read' | 'write'): { services: HttpServices; principal: Principal } => {
    const services = servicesOf(request);
    const principal = request.principal ?? ANONYMOUS;
    services.authorizer.authorizeAdmin(principal, access);
    return { services, principal };
  };
  const audit = async (services: HttpServices, event: AuditEvent): Promise<void> => {
    await services.audit?.append(event);
  };

  app.get('/admin/health', async (request) => {
    const { services } = guard(request, 'read');
    // Memory figures let operators (and bench/soak.ts) watch for leaks without a debugger.
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
    return { status: 'ok', ...services.health(), process: { rss, heapUsed, heapTotal, external, arrayBuffers } };
  });

  app.get('/admin/policy', async (request) => guard(request, 'read').services.policy());

  app.get('/admin/keys', async (request) => {
    const { services } = guard(request, 'read');
    return { data: await services.keys.list() };
  });

  app.post('/admin/keys', async (request, reply) => {
    const { services, principal } = guard(request, 'write');
    const body = parseBody(createKey, request.body);
    const { expiresAt, ...rest } = body;
    const issued = await services.keys.create({ ...rest, ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt) }) });
    await audit(services, { kind: 'key', action: 'key.create', actor: principal.id, subject: issued.record.id, outcome: 'success', data: { owner: body.owner } });
    // The key in clear is shown here, once; only its prefix is ever shown again.
    return reply.status(201).send({ key: issued.key, id: issued.record.id, prefix: issued.record.prefix });
  });

  app.delete('/admin/keys/:id', async (request) => {
    const { services, principal } = guard(request, 'write');
    const { id } = parseBody(keyId, request.params);
    await services.keys.revoke(id);
    await audit(services, { kind: 'key', action: 'key.revoke', actor: principal.id, subject: id, outcome: 'success' });
    return { id, state: 'revoked' };
  });

  app.post('/admin/keys/:id/rotate', async (request) => {
    const { services, principal } = guard(request, 'write');
    const { id } = parseBody(keyId, request.params);
    const issued = await services.keys.rotate(id);
    await audit(services, { kind: 'key', action: 'key.rotate', actor: principal.id, subject: id, outcome: 'success', data: { newId: issued.record.id } });
    return { key: issued.key, id: issued.record.id, prefix: issued.record.prefix, replaces: id };
  });

  app.post('/admin/reload', async (request, reply) => {
    const { services, principal } = guard(request, 'write');
    const result = await reload();
    // The request's own generation stays open until it is retired, so its trail takes the entry.
    await audit(services, {
      kind: 'policy',
      action: 'config.reload',
      actor: principal.id,
      subject: result.policyVersion,
      outcome: result.ok ? 'success' : 'failure',
      data: { problems: result.problems.length, needsRestart: [...result.needsRestart] },
    });
    if (!result.ok) {
      throw new GatewayError('invalid_request', `The new config was refused; nothing changed. ${result.problems.slice(0, 10).join('; ')}`);
    }
    return reply.send(result);
  });
}
