import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keysCommand } from '../../src/cli/keys.js';
import { KeyHasher } from '../../src/identity/api-key.js';
import { MemoryKeyStore } from '../../src/identity/key-stores/memory.js';
import { ApiKeyService } from '../../src/identity/keys.js';
import { PEPPER } from './support.js';

function io(): { out: { write(s: string): void; text: string }; err: { write(s: string): void; text: string } } {
  const mk = () => {
    const o = { text: '', write(s: string) { o.text += s; } };
    return o;
  };
  return { out: mk(), err: mk() };
}

describe('perimeter keys', () => {
  const keys = new ApiKeyService(new MemoryKeyStore(), new KeyHasher(PEPPER));
  const deps = (o: ReturnType<typeof io>) => ({ keys, out: o.out, err: o.err, knownRoles: ['user', 'admin', 'viewer'] });

  it('create prints the key once; list shows only the prefix; revoke; rotate', async () => {
    const c = io();
    assert.equal(await keysCommand(['create', '--owner', 'alice', '--team', 'payments', '--tier', 'on-prem', '--rpm', '60', '--expires', '30d', '--json'], deps(c)), 0);
    const created = JSON.parse(c.out.text) as { id: string; key: string; prefix: string };
    assert.ok(created.key.startsWith('sk-perimeter-'));
    assert.equal((await keys.verify(created.key)).ok, true);

    const l = io();
    assert.equal(await keysCommand(['list'], deps(l)), 0);
    assert.match(l.out.text, new RegExp(`${created.id}\\s+${created.prefix}…\\s+alice\\s+payments\\s+user\\s+active`));
    assert.ok(!l.out.text.includes(created.key));
    const lj = io();
    await keysCommand(['list', '--json'], deps(lj));
    assert.ok(!lj.out.text.includes(created.key) && !lj.out.text.includes('hash'));

    const r = io();
    assert.equal(await keysCommand(['rotate', created.id, '--json'], deps(r)), 0);
    const rotated = JSON.parse(r.out.text) as { id: string; key: string; replaced: string };
    assert.equal(rotated.replaced, created.id);
    assert.equal((await keys.verify(created.key)).ok, false);
    assert.equal((await keys.verify(rotated.key)).ok, true);

    const v = io();
    assert.equal(await keysCommand(['revoke', rotated.id], deps(v)), 0);
    assert.match(v.out.text, /^Revoked key_/);
    assert.equal((await keys.verify(rotated.key)).ok, false);
  });

  it('human create output shows the key with a warning it is shown once', async () => {
    const c = io();
    assert.equal(await keysCommand(['create', '--owner', 'bob'], deps(c)), 0);
    assert.match(c.out.text, /sk-perimeter-\S{32}/);
    assert.match(c.out.text, /shown only this once/);
  });

  it('usage errors exit 1 with a reason', async () => {
    const cases: [string[], RegExp][] = [
      [['create'], /--owner is required/],
      [['create', '--owner', 'x', '--role', 'root'], /unknown role "root"/],
      [['create', '--owner', 'x', '--tier', 'moon'], /--tier: expected one of/],
      [['create', '--owner', 'x', '--expires', 'yesterday'], /--expires/],
      [['create', '--owner', 'x', '--rpm', '-1'], /--rpm/],
      [['revoke'], /exactly one key id/],
      [['revoke', 'key_nope'], /no key with id key_nope/],
      [['rotate', 'key_nope'], /no key with id key_nope/],
      [['frob'], /unknown subcommand "frob"/],
      [['create', '--owner', 'x', '--bogus'], /bogus/],
    ];
    for (const [args, pattern] of cases) {
      const o = io();
      assert.equal(await keysCommand(args, deps(o)), 1, args.join(' '));
      assert.match(o.err.text, pattern);
    }
  });
});
