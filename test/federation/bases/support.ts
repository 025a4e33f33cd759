import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassifier } from '../../../src/classify/classifier.js';
import { classifierConfigSchema } from '../../../src/classify/config.js';
import { ANONYMOUS, type Principal } from '../../../src/domain/principal.js';
import type { Caller, MoveTransport } from '../../../src/federation/bases/api.js';
import { basesConfigSchema, type BasesConfigInput } from '../../../src/federation/bases/config.js';
import { LocalBases, type EmbedFn } from '../../../src/federation/bases/local-bases.js';
import { SqliteBaseStore } from '../../../src/federation/bases/sqlite/sqlite-store.js';
import { authSchema, type AuthConfigInput } from '../../../src/identity/config.js';
import { Authorizer } from '../../../src/identity/authorize.js';
import { AuditLog, type AuditEntry } from '../../../src/record/audit.js';
import { SqliteAuditStore } from '../../../src/record/sqlite/sqlite-store.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function tempDir(prefix = 'perimeter-bases-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function principal(id: string, overrides: Partial<Principal> = {}): Principal {
  return Object.freeze({ ...ANONYMOUS, id, kind: 'api_key' as const, roles: ['user'], ...overrides });
}

let n = 0;
export function caller(p: Principal, extra: Partial<Caller> = {}): Caller {
  n++;
  return { principal: p, requestId: `req-${n}`, correlationId: `corr-${n}`, ...extra };
}

/** Roles used by the Bases tests: readers, writers, an approver, and the built-in admin. */
export const ROLES: AuthConfigInput['roles'] = {
  admin: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'], mayApproveMoves: true, admin: 'write' },
  user: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'] },
  writer: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'] },
  approver: { models: [], tiers: [], workloads: [], bases: ['*'], mayApproveMoves: true },
  restricted: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['handbook'] },
};

export const DEFINITIONS: BasesConfigInput['definitions'] = [
  { id: 'handbook', name: 'Employee handbook', level: 'internal', access: { groups: ['staff'], roles: ['admin'] }, peers: { search: ['*'], retrieve: ['dep-b'] } },
  { id: 'hr-cases', name: 'HR cases', level: 'regulated', access: { groups: ['hr'], roles: [] }, peers: { search: [], retrieve: [] } },
  { id: 'locked', name: 'Nobody', level: 'public', access: { groups: [], roles: [] } },
];

export interface Harness {
  bases: LocalBases;
  audit: AuditLog;
  store: SqliteBaseStore;
  entries(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export async function localBases(options: {
  dir: string;
  name?: string;
  deploymentId?: string;
  bases?: BasesConfigInput;
  transport?: MoveTransport;
  embed?: EmbedFn;
}): Promise<Harness> {
  const name = options.name ?? 'a';
  const config = basesConfigSchema.parse({ definitions: DEFINITIONS, ...options.bases });
  const classification = classifierConfigSchema.parse({});
  const store = new SqliteBaseStore(join(options.dir, `bases-${name}.db`));
  await store.migrate();
  const auditStore = new SqliteAuditStore(join(options.dir, `audit-${name}.db`));
  await auditStore.migrate();
  const audit = new AuditLog(auditStore, { deploymentId: options.deploymentId ?? 'dep-a' });
  const bases = new LocalBases({
    deployment: { id: options.deploymentId ?? 'dep-a', zone: 'on-prem' },
    config,
    store,
    authorizer: new Authorizer(authSchema.parse({ roles: ROLES }).roles),
    classifier: createClassifier(classification),
    classification,
    audit,
    transport: options.transport,
    embed: options.embed,
  });
  return {
    bases,
    audit,
    store,
    entries: async () => {
      const out: AuditEntry[] = [];
      for await (const e of audit.entries()) out.push(e);
      return out;
    },
    close: async () => {
      await bases.close();
      await auditStore.close();
    },
  };
}
