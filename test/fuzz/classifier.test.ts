import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { createClassifier, type Classification, type Detector } from '../../src/classify/index.js';
import type { ChatRequest } from '../../src/domain/chat.js';
import { ClassifyStep } from '../../src/pipeline/classify-step.js';
import { nastyChar, nastyText, params } from './support.js';

/**
 * The classifier under hostile text. It must never throw, must always answer one of
 * the configured levels, must not be talked down by text around a sensitive value, and
 * must answer the highest level whenever a detector fails.
 */

const classifier = createClassifier();
const LEVELS = classifier.levels;
const TOP = LEVELS[LEVELS.length - 1]!;
const rank = (level: string): number => LEVELS.indexOf(level);

function assertWellFormed(c: Classification, texts: ReadonlyMap<string, string>): void {
  assert.ok(LEVELS.includes(c.level), `unknown level ${c.level}`);
  for (const f of c.findings) {
    assert.ok(Number.isInteger(f.start) && Number.isInteger(f.end) && f.start >= 0 && f.start < f.end, `bad span ${f.start}..${f.end}`);
    const base = f.path.split(' + ')[0]!.replace(/#numbers$/, '');
    const text = texts.get(f.path) ?? texts.get(base);
    if (text !== undefined) assert.ok(f.end <= text.length, `span ${f.start}..${f.end} past ${text.length} at ${f.path}`);
    assert.ok(f.score >= 0 && f.score <= 1, `score ${f.score}`);
  }
}

/** Text of any kind: full Unicode, UTF-16 halves (lone surrogates), and the tricky characters mixed with words. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  nastyText,
  fc.array(nastyChar, { maxLength: 60 }).map((a) => a.join('')),
);

// ------------------------------------------------------------- valid sensitive values

function luhnDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** Luhn-valid Visa/Mastercard numbers, written plain, in groups of four, or with dashes. */
const card = fc
  .tuple(fc.constantFrom('4', '51', '52', '53', '54', '55'), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }), fc.constantFrom('', ' ', '-'))
  .map(([prefix, digits, sep]) => {
    const body = (prefix + digits.join('')).slice(0, 15);
    const full = body + String(luhnDigit(body));
    return { entity: 'CREDIT_CARD', value: full.replace(/(\d{4})(?=\d)/g, `$1${sep}`) };
  })
  // A number of one repeated digit is a placeholder, not a card; the detector rightly skips it.
  .filter(({ value }) => new Set(value.replace(/\D/g, '')).size > 2);

/** SSNs that the SSA could issue: area not 000, 666 or 9xx; group and serial not zero. */
const ssn = fc
  .tuple(fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }))
  .filter(([a, g, s]) => new Set(`${a}${g}${s}`).size > 2)
  .map(([a, g, s]) => ({ entity: 'US_SSN', value: `SSN ${String(a).padStart(3, '0')}-${String(g).padStart(2, '0')}-${String(s).padStart(4, '0')}` }));

const email = fc
  .tuple(fc.stringMatching(/^[a-z]{3,10}$/), fc.stringMatching(/^[a-z]{3,10}$/), fc.constantFrom('io', 'com', 'de', 'co.uk'))
  .filter(([user, host]) => !['example', 'test'].includes(host) && user !== host)
  .map(([user, host, tld]) => ({ entity: 'EMAIL_ADDRESS', value: `${user}.${host}@${host}-mail.${tld}` }));

const sensitive = fc.oneof(card, ssn, email);

describe('fuzzing the classifier', () => {
  it('never throws on arbitrary Unicode (lone surrogates, NUL, RTL, zero-width, combining) and answers a valid level', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const c = classifier.classify(text);
        assertWellFormed(c, new Map([['text', text]]));
      }),
      params(600),
    );
  });

  it('never throws on requests of many hostile segments and tool arguments', () => {
    const step = new ClassifyStep(classifier);
    const args = fc.oneof(anyText, fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)), fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', ':', ',', '1', 'a', '\\') }));
    fc.assert(
      fc.property(fc.array(anyText, { minLength: 1, maxLength: 6 }), args, (texts, argText) => {
        const request: ChatRequest = {
          model: 'm',
          stream: false,
          includeUsage: false,
          protocolParams: {},
          messages: [
            ...texts.map((t) => ({ role: 'user' as const, content: [{ type: 'text' as const, text: t }] })),
            { role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'f', arguments: argText }] },
          ],
        };
        const c = step.chat(request, []);
        assert.ok(LEVELS.includes(c.level), c.level);
        assert.ok(!c.reasons.some((r) => r.startsWith('classifier failed')), c.reasons.join('; '));
      }),
      params(300),
    );
  });

  const words = fc.array(fc.oneof(anyText, fc.constantFrom('hello', 'please refund', 'my number is', 'call', 'Jane Doe', 'diagnosis', '+44 20 7946 0958', 'id', '2024-01-01')), { maxLength: 8 });
  /** The level a value of this entity makes a request on its own. */
  const OWN_LEVEL: Readonly<Record<string, string>> = { CREDIT_CARD: 'regulated', US_SSN: 'regulated', EMAIL_ADDRESS: 'confidential' };

  it('a valid card, SSN or e-mail added before or after any text never lowers the level, and is found', () => {
    fc.assert(
      fc.property(words, sensitive, fc.boolean(), (parts, inserted, first) => {
        const before = parts.join(' ');
        // ';' ends digit runs and tokens, so the value cannot merge with what is next to it.
        const after = first ? `${inserted.value} ; ${before}` : `${before} ; ${inserted.value}`;
        const a = classifier.classify(before);
        const b = classifier.classify(after);
        assert.ok(rank(b.level) >= rank(a.level), `${a.level} → ${b.level} after adding ${inserted.entity}`);
        assert.ok(b.findings.some((f) => f.entity === inserted.entity), `${inserted.entity} not found in ${JSON.stringify(after)}`);
      }),
      params(300),
    );
  });

  it('a valid card, SSN or e-mail put between any two words is found and sets at least its own level', () => {
    // Not "never lowers" here: lexicon terms score by proximity (health terms within six
    // tokens of each other), so any text put between two of them, a value included, can
    // drop a health-about-person combination: "diagnosis ; x@y.io ; diagnosis +44 20 7946 0958"
    // is confidential while "diagnosis diagnosis +44 20 7946 0958" is regulated.
    fc.assert(
      fc.property(words, sensitive, fc.nat(), (parts, inserted, at) => {
        const cut = at % (parts.length + 1);
        const after = [...parts.slice(0, cut), `; ${inserted.value} ;`, ...parts.slice(cut)].join(' ');
        const b = classifier.classify(after);
        assert.ok(rank(b.level) >= rank(OWN_LEVEL[inserted.entity]!), `${b.level} with ${inserted.entity} in ${JSON.stringify(after)}`);
        assert.ok(b.findings.some((f) => f.entity === inserted.entity), `${inserted.entity} not found in ${JSON.stringify(after)}`);
      }),
      params(300),
    );
  });

  it('a valid value inside deeply nested tool-call arguments is found at any depth, and nothing throws', () => {
    const step = new ClassifyStep(classifier);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.boolean(), sensitive, (depth, arrays, inserted) => {
        const value = JSON.stringify(inserted.value);
        const args = arrays ? `${'['.repeat(depth)}${value}${']'.repeat(depth)}` : `${'{"k":'.repeat(depth)}${value}${'}'.repeat(depth)}`;
        const request: ChatRequest = {
          model: 'm',
          stream: false,
          includeUsage: false,
          protocolParams: {},
          messages: [{ role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'lookup', arguments: args }] }],
        };
        const c = step.chat(request, []);
        assert.ok(!c.reasons.some((r) => r.startsWith('classifier failed')), c.reasons.join('; '));
        assert.ok(c.findings.some((f) => f.entity === inserted.entity), `${inserted.entity} not found at depth ${depth}`);
      }),
      params(40),
    );
    for (const depth of [100_000]) {
      const args = `${'['.repeat(depth)}"4111 1111 1111 1111"${']'.repeat(depth)}`;
      const c = step.chat({ model: 'm', stream: false, includeUsage: false, protocolParams: {}, messages: [{ role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'f', arguments: args }] }] }, []);
      assert.equal(c.level, TOP);
      assert.ok(c.findings.some((f) => f.entity === 'CREDIT_CARD'));
    }
  });

  it('answers 1 MB texts of hostile characters with a valid level (and the highest when values are everywhere)', () => {
    const MB = 1 << 20;
    // The slow ones run at 256 KB to keep CI time down; 1 MB of card numbers goes through HTTP in http-parsing.test.ts.
    const KB256 = MB / 4;
    const cases: Array<[string, string]> = [
      ['NUL', '\u0000'.repeat(MB)],
      ['RTL and zero-width', '\u202e\u200b\u200fx\u2066'.repeat(MB / 5)],
      ['one word', 'a'.repeat(MB)],
      ['digits', '7'.repeat(MB)],
      ['random', fc.sample(fc.string({ unit: 'binary', minLength: 4096, maxLength: 4096 }), { numRuns: 256, seed: 42 }).join('')],
      ['lone surrogates', '\ud800a\udfff'.repeat(KB256 / 3)],
      ['combining marks', `e${'\u0301'.repeat(63)}`.repeat(KB256 / 64)],
      ['cards', '4111 1111 1111 1111 '.repeat(KB256 / 20)],
      ['e-mails', 'jane.doe@acme-corp.io '.repeat(KB256 / 22)],
    ];
    for (const [name, text] of cases) {
      const c = classifier.classify(text);
      assertWellFormed(c, new Map([['text', text]]));
      if (name === 'cards') assert.equal(c.level, TOP, name);
      if (name === 'e-mails') assert.ok(rank(c.level) >= rank('confidential'), `${name}: ${c.level}`);
    }
  });

  it('keeps its memory bounded on long chains of short digit groups (a worker with a 192 MB heap does not run out)', async () => {
    // Each numeric detector walks windows of digit groups; memoising every window of
    // `1 1 1 …` once took gigabytes and killed the gateway under the HTTP fuzz test.
    const code = `
      const { parentPort, workerData } = await import('node:worker_threads');
      const { createClassifier } = await import(workerData);
      const c = createClassifier();
      const texts = ['1 '.repeat(1 << 18), '1-2 '.repeat(1 << 17), '12.34.5 '.repeat(1 << 16)];
      parentPort.postMessage(texts.map((t) => c.classify(t).level));
    `;
    const worker = new Worker(code, {
      eval: true,
      workerData: new URL('../../src/classify/index.js', import.meta.url).href,
      resourceLimits: { maxOldGenerationSizeMb: 192, maxYoungGenerationSizeMb: 32 },
    });
    const levels = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.ok(Array.isArray(levels) && levels.length === 3 && levels.every((l) => LEVELS.includes(String(l))), JSON.stringify(levels));
  });

  it('fails closed: whenever a detector throws (anything), the level is the highest', () => {
    const thrown = fc.constantFrom<() => unknown>(
      () => new Error('boom'),
      () => new RangeError('Maximum call stack size exceeded'),
      () => 'a string',
      () => null,
      () => undefined,
      () => ({ message: 'an object' }),
      () => Symbol('s'),
    );
    fc.assert(
      fc.property(anyText, thrown, fc.nat({ max: 3 }), (text, make, when) => {
        let calls = 0;
        const flaky: Detector = {
          id: 'fuzz.flaky',
          entities: ['FUZZ'],
          needs: 0,
          detect() {
            // Throws on one of the first few texts it sees (main scan or a cross-segment join).
            if (calls++ === when) throw make();
          },
        };
        const failing = createClassifier({}, { detectors: [flaky] });
        const segments = [
          { path: 'a', text },
          { path: 'b', text: `${text}1` },
          { path: 'c', text: 'tail' },
        ];
        const c = failing.classifySegments(segments);
        if (calls > when) {
          assert.equal(c.level, TOP, `detector threw on call ${when} but the level is ${c.level}`);
          assert.ok(c.reasons.some((r) => r.startsWith('fail-closed')), c.reasons.join('; '));
        } else {
          assert.equal(c.level, classifier.classifySegments(segments).level);
        }
      }),
      params(200),
    );
  });

  it('fails closed through the request path when the classifier itself throws', () => {
    const broken = { ...classifier, classifySegments: (): Classification => { throw new RangeError('Maximum call stack size exceeded'); } };
    const step = new ClassifyStep(broken);
    fc.assert(
      fc.property(anyText, (text) => {
        assert.equal(step.text(text, []).level, TOP);
      }),
      params(50),
    );
  });
});
