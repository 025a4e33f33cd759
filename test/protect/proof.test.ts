import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClassifier, normalize } from '../../src/classify/index.js';
import type { Finding } from '../../src/classify/types.js';
import type { ChatRequest, Chunk } from '../../src/domain/chat.js';
import { chatSegments } from '../../src/pipeline/segments.js';
import { protectRequest } from '../../src/protect/pseudonymize.js';
import { restoreResponse, restoreStream } from '../../src/protect/restore.js';
import { MemoryVault } from '../../src/protect/vault/memory-vault.js';
import type { Provider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { backend, ctx, secretSource } from '../providers/support.js';
import { request, userMessage } from './support.js';

/**
 * Proof for the part 6: with the simulator as the public-api backend, no raw
 * value of any finding (canonical or obfuscated, as in test/classify) appears in what
 * the backend received, and the client gets its original text back.
 */
const ZW = ['\u200b', '\u200c', '\u2060', '\ufeff', '\u00ad'];
const fullWidth = (s: string): string => s.replace(/[0-9A-Za-z]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));
const zeroWidth = (v: string, zw: string): string => v.slice(0, Math.floor(v.length / 2)) + zw + v.slice(Math.floor(v.length / 2));

const CASES: Array<{ context: string; canonical: string; split: string[] }> = [
  { context: 'card', canonical: '4111111111111111', split: ['4111 1111 1111 1111', '4111-1111-1111-1111', '4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1'] },
  { context: 'my SSN is', canonical: '536-22-8714', split: ['536 22 8714', '5-3-6-2-2-8-7-1-4'] },
  { context: 'IBAN', canonical: 'DE89370400440532013000', split: ['DE89 3704 0044 0532 0130 00'] },
  { context: 'email', canonical: 'jane.doe@corp-mail.com', split: [] },
  { context: 'phone', canonical: '+14155550132', split: ['+1 415 555 0132', '(415) 555-0132'] },
  { context: 'NHS number', canonical: '4010232137', split: ['401 023 2137'] },
];

function variants(): Array<{ label: string; text: string }> {
  const out: Array<{ label: string; text: string }> = [];
  for (const c of CASES) {
    const forms = [c.canonical, fullWidth(c.canonical), ...ZW.map((z) => zeroWidth(c.canonical, z)), ...c.split, ...c.split.map(fullWidth)];
    forms.forEach((v, i) => out.push({ label: `${c.context} #${i}`, text: `please check this ${c.context} ${v} thanks` }));
  }
  return out;
}

/** Every string in a JSON body, for searching. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number') out.push(String(value));
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}
const canon = (s: string): string => normalize(s).text.replace(/[\s.\-()]/g, '').toLowerCase();

function assertNoRawValue(body: unknown, req: ChatRequest, findings: readonly Finding[], label: string): void {
  const texts = new Map(chatSegments(req).segments.map((s) => [s.path, s.text]));
  const sent = strings(body);
  const sentCanon = sent.map(canon).join('\u0000');
  for (const f of findings) {
    const value = texts.get(f.path)!.slice(f.start, f.end);
    assert.ok(!sent.some((s) => s.includes(value)), `${label}: raw ${f.entity} reached the backend`);
    const c = canon(value);
    if (c.length >= 4) assert.ok(!sentCanon.includes(c), `${label}: ${f.entity} reached the backend in another form`);
  }
}

describe('proof: nothing a finding covers reaches a pseudonymised backend', () => {
  let sim: SimulatorHandle;
  let provider: Provider;
  const classifier = createClassifier();
  const vault = new MemoryVault({ ttlMs: 60_000 });
  const findingsOf = (req: ChatRequest): Finding[] => classifier.classifySegments(chatSegments(req).segments).findings;

  before(async () => {
    sim = await startSimulator({ name: 'public-api', apiKey: 'k' });
    provider = createProvider(
      backend({ protocol: 'openai', baseUrl: `${sim.url}/v1`, credentials: 'env:PERIMETER_PUBLIC_API_KEY' }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: 'k' }),
    );
  });
  after(async () => {
    await provider.close();
    await sim.close();
  });

  for (const v of variants()) {
    it(`${v.label}: content, tool arguments and tool results, whole and streamed`, async () => {
      const original: ChatRequest = request([
        { role: 'system', content: [{ type: 'text', text: 'You are helpful.' }] },
        userMessage(`earlier: ${v.text}`),
        { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'lookup', arguments: JSON.stringify({ q: v.text, n: 4111111111111111 }) }] },
        { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: `result for ${v.text}` }] },
        userMessage(v.text),
      ]);
      const findings = findingsOf(original);
      assert.ok(findings.length > 0, `${v.label}: the classifier found nothing`);
      const p = await protectRequest(vault, { requestId: v.label }, original, findings);

      const whole = await provider.chat(p.request, 'm', ctx());
      assertNoRawValue(sim.received().at(-1)?.body, original, findings, v.label);
      assert.equal(restoreResponse(whole, p.session).content, `You said: ${v.text}`);

      const stream = await provider.chatStream({ ...p.request, stream: true }, 'm', ctx());
      let text = '';
      for await (const c of restoreStream(stream, p.session)) if (c.type === 'text') text += c.text;
      assertNoRawValue(sim.received().at(-1)?.body, original, findings, `${v.label} (stream)`);
      assert.equal(text, `You said: ${v.text}`);
    });
  }

  it('the check itself catches an unprotected request', async () => {
    const original = request([userMessage(`please check this card ${fullWidth('4111')} 1111 1111 1111 thanks`)]);
    assert.ok(findingsOf(original).length > 0);
    await provider.chat(original, 'm', ctx());
    assert.throws(() => assertNoRawValue(sim.received().at(-1)?.body, original, findingsOf(original), 'raw'), assert.AssertionError);
  });

  it('tool calls the model makes with placeholders come back with the original values', async () => {
    const tool = { name: 'send', description: 'Send a note', parameters: { type: 'object', properties: { note: { type: 'string' } } } };
    const original = request([userMessage('email jane.doe@corp-mail.com about card 4111 1111 1111 1111')], { tools: [tool] });
    const p = await protectRequest(vault, { requestId: 'tools' }, original, findingsOf(original));
    const whole = restoreResponse(await provider.chat(p.request, 'm', ctx()), p.session);
    assert.deepEqual(JSON.parse(whole.toolCalls[0]!.arguments), { note: 'email jane.doe@corp-mail.com about card 4111 1111 1111 1111' });
    const stream = await provider.chatStream({ ...p.request, stream: true }, 'm', ctx());
    const chunks: Chunk[] = [];
    for await (const c of restoreStream(stream, p.session)) chunks.push(c);
    const args = chunks.map((c) => (c.type === 'tool_call_delta' ? c.arguments : '')).join('');
    assert.deepEqual(JSON.parse(args), { note: 'email jane.doe@corp-mail.com about card 4111 1111 1111 1111' });
    assertNoRawValue(sim.received().at(-1)?.body, original, findingsOf(original), 'tools');
  });
});
