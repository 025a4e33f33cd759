import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protectSchema } from '../../src/protect/config.js';

describe('protectSchema', () => {
  it('is complete when empty', () => {
    const cfg = protectSchema.parse({});
    assert.equal(cfg.vault.kind, 'memory');
    assert.equal(cfg.pseudonymize.minLevel, 'internal');
    assert.equal(cfg.output.action, 'flag');
    assert.equal(cfg.output.windowChars, 128);
  });
  it('requires an encryption key for persistent vaults and refuses inline secrets or credentials in URLs', () => {
    assert.equal(protectSchema.safeParse({ vault: { kind: 'sqlite' } }).success, false);
    assert.equal(protectSchema.safeParse({ vault: { kind: 'redis', keys: [{ id: 'k1', secret: 'abc' }] } }).success, false);
    assert.equal(protectSchema.safeParse({ vault: { kind: 'redis', redisUrl: 'redis://u:p@h:6379', keys: [{ id: 'k1', secret: 'env:PERIMETER_ONPREM_VAULT_KEY' }] } }).success, false);
    assert.equal(protectSchema.safeParse({ vault: { kind: 'redis', keys: [{ id: 'k1', secret: 'env:PERIMETER_ONPREM_VAULT_KEY' }] } }).success, true);
  });
});
