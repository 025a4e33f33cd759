import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/loader.js';
import { basesConfigSchema } from '../../../src/federation/bases/config.js';
import { authSchema } from '../../../src/identity/config.js';

const BACKENDS = `backends:
  - id: onprem
    tier: on-prem
    region: eu
    protocol: openai
    baseUrl: http://127.0.0.1:9/v1
    maxConcurrency: 4
    models: [{ id: chat-model }, { id: embed-model, kind: embedding }]
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(`${yaml}\n${BACKENDS}`);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('bases config', () => {
  it('defaults: no Bases, SQLite store, bounded snippets', () => {
    const c = parseConfig(BACKENDS).bases;
    assert.deepEqual(c.definitions, []);
    assert.deepEqual(c.store, { kind: 'sqlite', path: 'perimeter-bases.db' });
    assert.deepEqual(c.chunk, { maxChars: 1200, overlapChars: 150 });
    assert.equal(c.snippetChars, 300);
    const d = basesConfigSchema.parse({ definitions: [{ id: 'kb', name: 'KB', level: 'internal' }] }).definitions[0];
    assert.deepEqual(d?.access, { groups: [], roles: [] }, 'nobody by default');
    assert.deepEqual(d?.peers, { search: [], retrieve: [] }, 'no peer by default');
  });

  it('refuses unknown levels, duplicate ids, oversized snippets, inline Postgres passwords and non-embedding models', () => {
    assert.deepEqual(problems('bases: { definitions: [{ id: kb, name: KB, level: secret }] }'), ['bases.definitions[0].level: unknown level "secret" (levels: public, internal, confidential, regulated)']);
    assert.match(problems('bases: { definitions: [{ id: kb, name: A, level: public }, { id: kb, name: B, level: public }] }').join('\n'), /duplicate Base id "kb"/);
    assert.match(problems('bases: { snippetChars: 5000 }').join('\n'), /bases\.snippetChars/);
    assert.match(problems('bases: { store: { kind: postgres, url: "postgres://u:pw@h/db" } }').join('\n'), /contains a password/);
    assert.deepEqual(problems('bases: { embeddings: { model: chat-model } }'), ['bases.embeddings.model: "chat-model" is not an embedding model of any backend']);
    assert.deepEqual(problems('bases: { embeddings: { model: embed-model } }'), []);
    assert.match(problems('bases: { chunk: { maxChars: 400, overlapChars: 300 } }').join('\n'), /overlapChars/);
  });

  it('roles: basesWrite and mayApproveMoves default closed, admin open', () => {
    const roles = authSchema.parse({}).roles;
    assert.deepEqual([roles.admin?.basesWrite, roles.admin?.mayApproveMoves], [['*'], true]);
    assert.deepEqual([roles.user?.basesWrite, roles.user?.mayApproveMoves], [[], false]);
    const custom = authSchema.parse({ roles: { r: {} } }).roles.r;
    assert.deepEqual([custom?.basesWrite, custom?.mayApproveMoves], [[], false]);
  });
});
