import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { TIERS, type Tier } from '../../src/domain/tier.js';
import { startGateway, TEST_KEY } from '../helpers/gateway.js';

type Level = 'public' | 'confidential' | 'regulated';
const CONTENT: Record<Level, string> = {
  public: 'summarise the tide tables',
  confidential: 'write to jane.doe@acme-corp.io',
  regulated: 'refund card 4111 1111 1111 1111',
};
const MODELS = { 'm-basic': 'basic', 'm-frontier': 'frontier', 'perimeter/basic': 'basic', 'perimeter/frontier': 'frontier' } as const;
type Model = keyof typeof MODELS;

const tierList = fc.uniqueArray(fc.constantFrom(...TIERS), { minLength: 1, maxLength: 3 });
const cell = fc.oneof(tierList.map((t): readonly Tier[] | 'deny' => t), fc.constant<'deny'>('deny'));
const policy = fc.record({
  matrix: fc.record({ public: fc.record({ basic: cell, frontier: cell }), confidential: fc.record({ any: cell }), regulated: fc.record({ any: cell }) }),
  rule: fc.option(fc.record({ level: fc.constantFrom<Level>('public', 'confidential', 'regulated'), allow: tierList }), { nil: undefined }),
});
const request = fc.record({ level: fc.constantFrom<Level>('public', 'confidential', 'regulated'), model: fc.constantFrom(...(Object.keys(MODELS) as Model[])), fault: fc.boolean() });

type Policy = typeof policy extends fc.Arbitrary<infer T> ? T : never;

/** The tiers a request may reach, computed here independently of the engine. */
function oracle(p: Policy, level: Level, model: Model): readonly Tier[] {
  const capability = MODELS[model];
  const row = p.matrix[level];
  const c = 'any' in row ? row.any : row[capability as 'basic' | 'frontier'];
  if (c === 'deny') return [];
  let tiers = [...c];
  if (p.rule !== undefined && p.rule.level === level) tiers = tiers.filter((t) => p.rule?.allow.includes(t));
  return tiers;
}

function yamlFor(p: Policy, urls: Record<Tier, string>): string {
  const list = (c: readonly Tier[] | 'deny'): string => (c === 'deny' ? 'deny' : `[${c.join(', ')}]`);
  const backend = (tier: Tier): string => `
  - id: ${tier}-b
    tier: ${tier}
    region: eu
    protocol: openai
    baseUrl: ${urls[tier]}/v1
${tier === 'on-prem' ? '    maxConcurrency: 2\n' : ''}    models:
      - { id: m-basic, capability: basic }
${tier === 'on-prem' ? '' : '      - { id: m-frontier, capability: frontier }\n'}`;
  return `logging: { level: silent }
server: { port: 0 }
auth: { required: false, keys: [{ id: tests, insecurePlaintext: ${TEST_KEY}, owner: tests }] }
routing: { retry: { backoff: { baseMs: 1, maxMs: 2, jitter: 0 } }, queue: { maxWaitMs: 50 }, breaker: { failureThreshold: 3, cooldownMs: 60000 } }
policy:
  matrix:
    public: { basic: ${list(p.matrix.public.basic)}, frontier: ${list(p.matrix.public.frontier)} }
    confidential: { any: ${list(p.matrix.confidential.any)} }
    regulated: { any: ${list(p.matrix.regulated.any)} }
  default: deny
${p.rule === undefined ? '' : `  rules:\n    - { id: narrow, when: { levels: [${p.rule.level}] }, effects: { allow_tiers: [${p.rule.allow.join(', ')}] } }\n`}backends:${TIERS.map(backend).join('')}`;
}

describe('property: no request ever reaches a backend outside its eligible set', () => {
  const sims = new Map<Tier, SimulatorHandle>();

  before(async () => {
    for (const tier of TIERS) sims.set(tier, await startSimulator({ name: tier }));
  });
  after(async () => {
    await Promise.all([...sims.values()].map((s) => s.close()));
  });

  it('holds over random policies, requests and upstream faults, checked against what each tier received', async () => {
    const urls = Object.fromEntries([...sims].map(([t, s]) => [t, s.url])) as Record<Tier, string>;
    let served = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(policy, fc.array(request, { minLength: 1, maxLength: 6 }), async (p, requests) => {
        for (const s of sims.values()) s.clear();
        const gw = await startGateway(yamlFor(p, urls));
        try {
          for (const [i, r] of requests.entries()) {
            const marker = `req-${i}-${Math.random().toString(36).slice(2)}`;
            const content = `${marker} ${CONTENT[r.level]}${r.fault ? ' [[sim:status=503]]' : ''}`;
            const res = await fetch(`${gw.url}/v1/chat/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: r.model, messages: [{ role: 'user', content }] }),
            });
            await res.arrayBuffer();
            if (res.ok) served += 1;
            else refused += 1;
            const allowed = oracle(p, r.level, r.model);
            for (const [tier, sim] of sims) {
              const reached = sim.received().some((rec) => JSON.stringify(rec.body).includes(marker));
              if (reached) assert.ok(allowed.includes(tier), `${r.level} ${r.model} reached ${tier}; allowed: ${allowed.join(',') || 'none'}`);
            }
            if (res.ok) assert.ok(allowed.includes(res.headers.get('x-perimeter-tier') as Tier));
          }
        } finally {
          await gw.close();
        }
      }),
      { numRuns: 30, seed: Number(process.env.PROPERTY_SEED ?? 4242) },
    );
    assert.ok(served > 0 && refused > 0, `both outcomes exercised (served ${served}, refused ${refused})`);
  });
});
