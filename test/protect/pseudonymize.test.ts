import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClassifier } from '../../src/classify/index.js';
import { classifierConfigSchema } from '../../src/classify/config.js';
import type { Finding } from '../../src/classify/types.js';
import type { ChatRequest } from '../../src/domain/chat.js';
import { GatewayError } from '../../src/domain/errors.js';
import { chatSegments } from '../../src/pipeline/segments.js';
import { protectSchema } from '../../src/protect/config.js';
import { conversationKey, createFindingFilter, protectRequest, pseudonymizeChat } from '../../src/protect/pseudonymize.js';
import { restoreJsonText, restoreResponse } from '../../src/protect/restore.js';
import { MemoryVault } from '../../src/protect/vault/memory-vault.js';
import { request, userMessage } from './support.js';

const classifier = createClassifier();
const findingsOf = (req: ChatRequest): Finding[] => classifier.classifySegments(chatSegments(req).segments).findings;
const vault = new MemoryVault({ ttlMs: 60_000 });

describe('pseudonymizeChat', () => {
  it('replaces each finding with a typed placeholder, the same value with the same one across messages', async () => {
    const req = request([
      userMessage('Write to jane.doe@corp-mail.com about card 4111 1111 1111 1111.'),
      { role: 'assistant', content: [{ type: 'text', text: 'Sure.' }] },
      userMessage('Again: jane.doe@corp-mail.com'),
    ]);
    const session = await vault.open({ requestId: 'r1' });
    const out = pseudonymizeChat(req, findingsOf(req), session);
    const first = out.messages[0]!.content[0];
    const third = out.messages[2]!.content[0];
    assert.ok(first?.type === 'text' && third?.type === 'text');
    assert.equal(first.text, 'Write to <EMAIL_ADDRESS_1> about card <CREDIT_CARD_1>.');
    assert.equal(third.text, 'Again: <EMAIL_ADDRESS_1>');
    assert.equal(session.lookup('<EMAIL_ADDRESS_1>'), 'jane.doe@corp-mail.com');
    assert.equal(session.lookup('<PERSON_9>'), undefined);
    // The input is untouched.
    assert.ok(JSON.stringify(req).includes('4111 1111 1111 1111'));
  });

  it('picks other delimiters when the prompt already contains placeholder-shaped text', async () => {
    const req = request([userMessage('Template says <PERSON_1>; mail jane.doe@corp-mail.com')]);
    const session = await vault.open({ requestId: 'r2' });
    const email: Finding = { entity: 'EMAIL_ADDRESS', path: 'messages[0].content[0]', start: 31, end: 53, score: 1, detector: 't' };
    const out = pseudonymizeChat(req, [email], session);
    const part = out.messages[0]!.content[0];
    assert.ok(part?.type === 'text');
    assert.equal(part.text, 'Template says <PERSON_1>; mail {{EMAIL_ADDRESS_1}}');
    // The literal is not restored: it was never issued.
    const restored = restoreResponse({ id: 'x', model: 'm', created: 0, content: '<PERSON_1> {{EMAIL_ADDRESS_1}}', toolCalls: [], finishReason: 'stop' }, session);
    assert.equal(restored.content, '<PERSON_1> jane.doe@corp-mail.com');
  });

  it('replaces overlapping findings once, longest span first', async () => {
    const req = request([userMessage('abcdefghij')]);
    const findings: Finding[] = [
      { entity: 'A', path: 'messages[0].content[0]', start: 0, end: 4, score: 0.9, detector: 't' },
      { entity: 'B', path: 'messages[0].content[0]', start: 2, end: 8, score: 0.5, detector: 't' },
      { entity: 'C', path: 'messages[0].content[0]', start: 8, end: 10, score: 0.5, detector: 't' },
    ];
    const out = pseudonymizeChat(req, findings, await vault.open({ requestId: 'r3' }));
    assert.deepEqual(out.messages[0]!.content[0], { type: 'text', text: 'ab<B_1><C_1>' });
  });

  it('keeps tool-call arguments valid JSON, including a card number written as a JSON number', async () => {
    const req = request(
      [
        userMessage('Pay with my card please'),
        {
          role: 'assistant',
          content: [],
          toolCalls: [{ id: 'c1', name: 'pay', arguments: '{"card_number": 4111111111111111, "holder": "jane.doe@corp-mail.com", "n": 2}' }],
        },
        { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'Charged card 4111111111111111.' }] },
      ],
    );
    const session = await vault.open({ requestId: 'r4' });
    const out = pseudonymizeChat(req, findingsOf(req), session);
    const args = out.messages[1]!.toolCalls![0]!.arguments;
    const parsed = JSON.parse(args) as Record<string, unknown>;
    assert.equal(parsed['card_number'], '<CREDIT_CARD_1>');
    assert.ok(Object.values(parsed).includes(2));
    // Restored, the card comes back as a string (it sat inside a JSON string placeholder).
    assert.deepEqual(JSON.parse(restoreJsonText(args, session)), { card_number: '4111111111111111', holder: 'jane.doe@corp-mail.com', n: 2 });
    assert.deepEqual(out.messages[2]!.content[0], { type: 'text', text: 'Charged card <CREDIT_CARD_1>.' });
    assert.ok(!JSON.stringify(out).includes('4111111111111111'));
  });

  it('fails closed when findings do not fit the request', async () => {
    const req = request([userMessage('short')]);
    const bad: Finding[] = [{ entity: 'PERSON', path: 'messages[0].content[0]', start: 2, end: 99, score: 1, detector: 't' }];
    const absent: Finding[] = [{ entity: 'PERSON', path: 'messages[5].content[0]', start: 0, end: 1, score: 1, detector: 't' }];
    const session = await vault.open({ requestId: 'r5' });
    assert.throws(() => pseudonymizeChat(req, bad, session), (e: unknown) => e instanceof GatewayError && e.code === 'pseudonymization_unavailable' && !e.message.includes('short'));
    assert.throws(() => pseudonymizeChat(req, absent, session), (e: unknown) => e instanceof GatewayError && e.code === 'pseudonymization_unavailable');
  });

  it('gives the same placeholders across turns of one conversation', async () => {
    const turn1 = request([userMessage('My mail is jane.doe@corp-mail.com and my colleague is bob.ray@corp-mail.com')]);
    const key1 = conversationKey(turn1, undefined, 'tenant-a')!;
    const p1 = await protectRequest(vault, { requestId: 't1', conversation: key1 }, turn1, findingsOf(turn1));
    const turn2 = request([
      ...turn1.messages,
      { role: 'assistant', content: [{ type: 'text', text: 'Noted.' }] },
      userMessage('Only write to bob.ray@corp-mail.com'),
    ]);
    const key2 = conversationKey(turn2, undefined, 'tenant-a')!;
    assert.equal(key2, key1, 'the opening identifies the conversation');
    assert.notEqual(conversationKey(turn2, undefined, 'tenant-b'), key1, 'partitions keep callers apart');
    assert.notEqual(conversationKey(turn2, 'conv-42', 'tenant-a'), key1);
    assert.equal(conversationKey(turn2, 'conv-42'), conversationKey(turn1, ' conv-42 '));
    // A second turn that mentions only the colleague still calls him EMAIL_ADDRESS_2.
    const onlyBob = request([userMessage('Only bob.ray@corp-mail.com')]);
    const p2 = await protectRequest(vault, { requestId: 't2', conversation: key1 }, onlyBob, findingsOf(onlyBob));
    assert.deepEqual(p1.request.messages[0]!.content[0], { type: 'text', text: 'My mail is <EMAIL_ADDRESS_1> and my colleague is <EMAIL_ADDRESS_2>' });
    assert.deepEqual(p2.request.messages[0]!.content[0], { type: 'text', text: 'Only <EMAIL_ADDRESS_2>' });
    // Only what this request issued is restored: EMAIL_ADDRESS_1 was not in turn 2.
    assert.equal(p2.session.lookup('<EMAIL_ADDRESS_1>'), undefined);
    assert.equal(p2.session.lookup('<EMAIL_ADDRESS_2>'), 'bob.ray@corp-mail.com');
  });
});

describe('createFindingFilter', () => {
  it('selects findings at or above the level, with include and exclude', () => {
    const f = (entity: string): Finding => ({ entity, path: 'p', start: 0, end: 1, score: 0.9, detector: 't' });
    const cls = classifierConfigSchema.parse({});
    const byDefault = createFindingFilter(protectSchema.parse({}).pseudonymize, cls);
    assert.deepEqual(['PERSON', 'URL', 'CREDIT_CARD', 'LOCATION'].filter((e) => byDefault(f(e))), ['PERSON', 'CREDIT_CARD']);
    const custom = createFindingFilter(protectSchema.parse({ pseudonymize: { minLevel: 'regulated', include: ['URL'], exclude: ['IBAN_CODE'] } }).pseudonymize, cls);
    assert.deepEqual(['PERSON', 'URL', 'CREDIT_CARD', 'IBAN_CODE'].filter((e) => custom(f(e))), ['URL', 'CREDIT_CARD']);
  });
});
