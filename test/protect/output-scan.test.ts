import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createClassifier } from '../../src/classify/index.js';
import type { ChatResponse, Chunk } from '../../src/domain/chat.js';
import { GatewayError } from '../../src/domain/errors.js';
import { protectSchema } from '../../src/protect/config.js';
import { OutputScanner } from '../../src/protect/output-scan.js';
import { request, splitAt, userMessage } from './support.js';

const classifier = createClassifier();
const scanner = (action: 'flag' | 'mask' | 'block', windowChars = 64): OutputScanner =>
  new OutputScanner(classifier, protectSchema.parse({ output: { action, windowChars } }).output);
const input = request([userMessage('My card is 4111 1111 1111 1111, mail jane.doe@corp-mail.com')]);
const answer = (content: string): ChatResponse => ({ id: 'x', model: 'm', created: 0, content, toolCalls: [], finishReason: 'stop' });
const LEAK = 'Your card 4111-1111-1111-1111 is fine; also try card 5555 5555 5555 4444 from my training data.';

describe('OutputScanner, whole answers', () => {
  it('flags only findings that were not in the input', () => {
    const scan = scanner('flag').forRequest(input);
    const out = scan.scanResponse(answer(LEAK));
    assert.equal(out.content, LEAK);
    assert.deepEqual(scan.findings.map((f) => f.entity), ['CREDIT_CARD']);
  });

  it('masks them', () => {
    const out = scanner('mask').forRequest(input).scanResponse(answer(LEAK));
    assert.equal(out.content, 'Your card 4111-1111-1111-1111 is fine; also try card [REDACTED:CREDIT_CARD] from my training data.');
  });

  it('blocks, without the value in the error', () => {
    assert.throws(
      () => scanner('block').forRequest(input).scanResponse(answer(LEAK)),
      (e: unknown) => e instanceof GatewayError && e.message.includes('CREDIT_CARD') && !e.message.includes('5555'),
    );
  });
});

describe('OutputScanner, streams', () => {
  const run = (action: 'mask' | 'block' | 'flag', pieces: string[]): string => {
    const s = scanner(action).forRequest(input).stream();
    const out: Chunk[] = [];
    for (const p of pieces) out.push(...s.push({ type: 'text', text: p }));
    out.push(...s.push({ type: 'finish', reason: 'stop' }));
    return out.map((c) => (c.type === 'text' ? c.text : '')).join('');
  };

  it('masks a value split across chunks at any boundaries, never releasing any of it', () => {
    const whole = scanner('mask').forRequest(input).scanResponse(answer(LEAK)).content;
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 25 }), (cuts) => {
        assert.equal(run('mask', splitAt(LEAK, cuts)), whole);
      }),
      { numRuns: 100 },
    );
  });

  it('blocks before the value is released', () => {
    const s = scanner('block').forRequest(input).stream();
    const released: string[] = [];
    assert.throws(() => {
      for (const word of LEAK.split(/(?<= )/)) for (const c of s.push({ type: 'text', text: word })) if (c.type === 'text') released.push(c.text);
      s.flush();
    }, GatewayError);
    assert.ok(!released.join('').includes('5555'));
  });

  it('flag holds nothing back', () => {
    const s = scanner('flag').forRequest(input).stream();
    assert.deepEqual(s.push({ type: 'text', text: 'hello ' }), [{ type: 'text', text: 'hello ' }]);
  });
});
