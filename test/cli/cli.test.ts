import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { cliPath, repoRoot } from '../helpers/paths.js';

function perimeter(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('perimeter CLI', () => {
  it('validate: ok for the demo config', () => {
    const r = perimeter('validate', join(repoRoot, 'examples', 'demo.yaml'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok \(4 backends — on-prem: 1, private-cloud: 1, public-api: 2; 6 models\)/);
  });

  it('validate: exits non-zero with path: reason lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'backends:\n  - { id: a, tier: moon, region: eu, protocol: openai, baseUrl: "http://h/v1", models: [{ id: m }] }\n');
    const r = perimeter('validate', file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /backends\[0\]\.tier: expected one of on-prem\|private-cloud\|public-api/);
  });

  it('validate --check-secrets: names a missing secret without failing plain validation', () => {
    const plain = perimeter('validate', join(repoRoot, 'examples', 'reference.yaml'));
    assert.equal(plain.status, 0, plain.stderr);
    const checked = perimeter('validate', '--check-secrets', join(repoRoot, 'examples', 'reference.yaml'));
    assert.equal(checked.status, 1);
    assert.match(checked.stderr, /backends\[1\]\.credentials: env:PERIMETER_PRIVATE_CLOUD_AZURE_KEY: environment variable is not set/);
  });

  it('prints usage and fails on an unknown command', () => {
    const r = perimeter('frobnicate');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  it('demo: starts three simulated tiers and a gateway that answers', async () => {
    const child = spawn(process.execPath, [cliPath, 'demo', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`demo did not start: ${out}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Gateway: (http:\/\/[^\s]+)/.exec(out);
          if (m?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`demo exited ${String(code)}: ${out}`)));
      });
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-perimeter-demo', maxRetries: 0 });
      const tiers = new Set<string>();
      for await (const m of client.models.list()) tiers.add((m as unknown as { perimeter: { tier: string } }).perimeter.tier);
      assert.deepEqual([...tiers].sort(), ['on-prem', 'private-cloud', 'public-api']);
      const reply = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'demo works' }] });
      assert.equal(reply.choices[0]?.message.content, 'You said: demo works');
      const received = (await (await fetch('http://127.0.0.1:9102/_sim/received')).json()) as unknown[];
      assert.ok(received.length >= 1, 'the private-cloud simulator recorded the call');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('perimeter explain and classify', () => {
  it('explain: the decision for a request, exit 2 when it would be refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-explain-'));
    const refused = join(dir, 'refused.json');
    writeFileSync(refused, JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'refund card 4111 1111 1111 1111' }] }));
    const r = perimeter('explain', '--config', join(repoRoot, 'examples', 'demo.yaml'), refused);
    assert.equal(r.status, 2, r.stderr);
    const e = JSON.parse(r.stdout) as { level: string; eligibleTiers: string[]; refusal: { code: string } };
    assert.equal(e.level, 'regulated');
    assert.deepEqual(e.eligibleTiers, ['on-prem']);
    assert.equal(e.refusal.code, 'model_not_permitted_for_data');

    const served = join(dir, 'served.json');
    writeFileSync(served, JSON.stringify({ model: 'perimeter/auto', messages: [{ role: 'user', content: 'tide tables' }] }));
    const ok = perimeter('explain', '--config', join(repoRoot, 'examples', 'demo.yaml'), '--workload', 'research', served);
    assert.equal(ok.status, 0, ok.stderr);
    const chosen = (JSON.parse(ok.stdout) as { chosen: { tier: string; model: string } }).chosen;
    assert.equal(chosen.tier, 'public-api');
  });

  it('classify: JSONL in, JSONL out, one error line per bad input', () => {
    const r = spawnSync(process.execPath, [cliPath, 'classify'], {
      encoding: 'utf8',
      input: '{"text":"card 4111 1111 1111 1111"}\nnot json\n{"messages":[{"role":"user","content":"hello"}]}\n',
    });
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { level?: string; error?: string; findings?: { entity: string; start: number; end: number }[] });
    assert.equal(lines[0]?.level, 'regulated');
    assert.deepEqual(lines[0]?.findings?.map((f) => [f.entity, f.start, f.end]), [['CREDIT_CARD', 5, 24]]);
    assert.match(lines[1]?.error ?? '', /line 2: not valid JSON/);
    assert.equal(lines[2]?.level, 'public');
  });
});
