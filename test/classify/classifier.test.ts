import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  applyCallerLabel, classifierConfigSchema, createClassifier, normalize, toOriginalSpan, type Classification, type Detector,
} from '../../src/classify/index.js';

const cls = createClassifier();

function entities(c: Classification): string[] {
  return [...new Set(c.findings.map((f) => f.entity))].sort();
}

/** Asserts `entity` is found and one finding's original-text span covers `value`'s digits/letters. */
function assertFinds(text: string, entity: string, value?: string): void {
  const c = cls.classify(text);
  const hits = c.findings.filter((f) => f.entity === entity);
  assert.ok(hits.length > 0, `${entity} not found in ${JSON.stringify(text)}; got ${entities(c).join(',')}`);
  if (value !== undefined) {
    const at = text.indexOf(value);
    assert.ok(hits.some((f) => f.start <= at && f.end >= at + value.length), `${entity} span does not cover the value in ${JSON.stringify(text)}`);
  }
}

function assertNot(text: string, entity: string): void {
  const c = cls.classify(text);
  assert.ok(!c.findings.some((f) => f.entity === entity), `${entity} unexpectedly found in ${JSON.stringify(text)}`);
}

const ZW = '\u200b';
const fullWidth = (s: string): string => s.replace(/[0-9A-Za-z]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));

describe('config', () => {
  it('parses an empty section into a complete config', () => {
    const cfg = classifierConfigSchema.parse({});
    assert.deepEqual(cfg.levels, ['public', 'internal', 'confidential', 'regulated']);
    assert.equal(cfg.threshold, 0.5);
    assert.ok(cfg.combinations.length > 0);
  });
  it('rejects entity levels that are not configured', () => {
    assert.equal(classifierConfigSchema.safeParse({ entityLevels: { PERSON: 'secret' } }).success, false);
    assert.equal(classifierConfigSchema.safeParse({ allowPatterns: ['('] }).success, false);
  });
});

describe('normalisation', () => {
  it('maps NFKC and removed invisibles back to original offsets', () => {
    const original = `a${ZW}１２3`;
    const n = normalize(original);
    assert.equal(n.text, 'a123');
    assert.deepEqual(toOriginalSpan(n, 1, 4), [2, 5]);
  });
  it('is the identity on ASCII', () => {
    const n = normalize('plain text 123');
    assert.equal(n.starts, null);
  });
});

describe('structured entities and their obfuscated variants', () => {
  // Each entity is embedded after a context word a real prompt would carry; bare
  // contiguous numbers without any context are ambiguous by design (see eval notes).
  const context: Record<string, string> = {
    US_SSN: 'my SSN is', DE_TAX_ID: 'Steuer-ID', CA_SIN: 'SIN', AU_TFN: 'TFN', US_ITIN: 'ITIN', FR_NIR: 'NIR', PL_PESEL: 'PESEL',
    IN_AADHAAR: 'Aadhaar', UK_NHS: 'NHS number',
  };
  const cases: Array<[string, string, string[]]> = [
    ['CREDIT_CARD', '4111 1111 1111 1111', ['4111111111111111', '4111-1111-1111-1111', '4111.1111.1111.1111', `4111${ZW}1111${ZW}1111${ZW}1111`, fullWidth('4111111111111111'), '4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1']],
    ['US_SSN', '536-22-8714', ['536 22 8714', '536.22.8714', '536228714', `536${ZW}-22-8714`, fullWidth('536-22-8714')]],
    ['IBAN_CODE', 'DE89 3704 0044 0532 0130 00', ['DE89370400440532013000', 'DE89-3704-0044-0532-0130-00', 'de89370400440532013000', `DE89${ZW}3704${ZW}0044${ZW}0532${ZW}0130${ZW}00`, fullWidth('DE89370400440532013000')]],
    ['EMAIL_ADDRESS', 'jane.doe@corp-mail.com', [`jane.doe${ZW}@corp-mail.com`, fullWidth('jane.doe') + '＠corp-mail.com', 'JANE.DOE@CORP-MAIL.COM']],
    ['PHONE_NUMBER', '+1 415 555 0132', ['(415) 555-0132', '+1-415-555-0132', '+1.415.555.0132', `+1 415${ZW} 555 0132`, fullWidth('+14155550132')]],
    ['UK_NHS', '401 023 2137', ['401-023-2137', '4010232137', `401${ZW}023${ZW}2137`, fullWidth('4010232137')]],
    ['DE_TAX_ID', '12345678903', [`123${ZW}45678903`, fullWidth('12345678903')]],
    ['PL_PESEL', '44051401458', [fullWidth('44051401458'), `440514${ZW}01458`]],
    ['IN_AADHAAR', '3123 4567 8909', ['3123-4567-8909', '312345678909', fullWidth('312345678909')]],
    ['CA_SIN', '130 692 544', ['130-692-544', '130692544', fullWidth('130692544')]],
    ['AU_TFN', '876 543 210', ['876543210', fullWidth('876543210')]],
    ['ES_NIF', '55555555K', ['55555555-K', '55555555k', fullWidth('55555555K')]],
    ['ES_NIE', 'X9613851N', ['x9613851n', 'X-9613851-N', fullWidth('X9613851N')]],
    ['IT_FISCAL_CODE', 'RSSMRA85T10A562S', ['rssmra85t10a562s', fullWidth('RSSMRA85T10A562S')]],
    ['IN_PAN', 'ABCPD1234Z', [fullWidth('ABCPD1234Z')]],
    ['SG_NRIC_FIN', 'S2740116C', ['s2740116c', fullWidth('S2740116C')]],
    ['UK_NINO', 'AB 12 34 56 C', ['AB123456C', 'ab 12 34 56 c', fullWidth('AB123456C')]],
    ['FR_NIR', '2 84 05 73 111 222 41', ['284057311122241']],
    ['IP_ADDRESS', '10.20.30.41', [fullWidth('10.20.30.41'), '2001:db8::1']],
    ['MAC_ADDRESS', '3c:22:fb:91:0a:4e', ['3C-22-FB-91-0A-4E', '3c22.fb91.0a4e']],
    ['CRYPTO', '16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ', ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']],
    ['URL', 'https://intranet.example.io/path?q=1', ['www.microsoft.com']],
    ['US_ITIN', '911-70-1234', ['911701234']],
  ];
  for (const [entity, canonical, variants] of cases) {
    it(`${entity}: canonical and obfuscated forms`, () => {
      for (const v of [canonical, ...variants]) assertFinds(`please check this ${context[entity] ?? 'value:'} ${v} thanks`, entity);
    });
  }
  it('passport, driver licence and bank numbers with context', () => {
    assertFinds('my passport number is A12803456', 'US_PASSPORT', 'A12803456');
    assertFinds("driver's license D4821937 on file", 'US_DRIVER_LICENSE', 'D4821937');
    assertFinds('bank account number 000123456789', 'US_BANK_NUMBER', '000123456789');
  });
  it('rejects bad check digits and invalid ranges', () => {
    assertNot('card 4111 1111 1111 1112', 'CREDIT_CARD');
    assertNot('ssn 666-12-3456', 'US_SSN');
    assertNot('ssn 078-05-1120', 'US_SSN');
    assertNot('iban DE89 3704 0044 0532 0130 01', 'IBAN_CODE');
    assertNot('nhs 401-023-2138', 'UK_NHS');
    assertNot('MAC FF:FF:FF:FF:FF:FF', 'MAC_ADDRESS');
    assertNot('wallet 16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ2', 'CRYPTO');
  });
  it('does not read versions, dates, uuids or instance types as identifiers', () => {
    const c = cls.classify('Upgrade to 3.11.4 on 2024-03-15, request 550e8400-e29b-41d4-a716-446655440000 on c5.xlarge with EKS and S3.');
    assert.equal(c.level, 'public', c.reasons.join('; '));
  });
});

describe('secrets', () => {
  it('finds provider tokens, private keys, JWTs and credentials in URLs and assignments', () => {
    const samples = [
      'token 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',
      'AKIAIOSFODNN7SECRETS',
      'xoxb-23984754863-2348975623000-AAAAANzjawSSE9krECohd',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'postgres://app:Vq83trB9zLm@db.internal:5432/orders',
      'API_KEY="f9A2kLq8Zx71PmW3vBn5Rt0Y"',
      `-----BEGIN RSA PRIVATE KEY-----\n${'MIICWwIBAAKBgQCYdGaf5uYMsilGHfnx/zxXtihdGO/'.repeat(3)}\n-----END RSA PRIVATE KEY-----`,
    ];
    for (const s of samples) {
      const c = cls.classify(`here: ${s}`);
      assert.ok(c.findings.some((f) => f.entity === 'SECRET'), `no SECRET in ${s.slice(0, 20)}`);
      assert.equal(c.level, 'confidential');
    }
  });
  it('skips placeholders and variables', () => {
    for (const s of ['https://${user}:${pass}@api.example.com', 'postgres://postgres:postgres@localhost/db', 'password = "changeme"', 'token: process.env.TOKEN']) {
      assert.ok(!cls.classify(s).findings.some((f) => f.entity === 'SECRET'), s);
    }
  });
});

describe('people, places and health', () => {
  it('finds names by lexicon, title and context', () => {
    assertFinds('Please send it to Jennifer Walsh today.', 'PERSON', 'Jennifer Walsh');
    assertFinds('They call me Mr. Mayers', 'PERSON', 'Mayers');
    assertFinds('Richard M. Nixon resigned.', 'PERSON', 'Richard M. Nixon');
    assertNot('Will you help me with this?', 'PERSON');
    assertNot('May I ask a question?', 'PERSON');
  });
  it('finds addresses, dates of birth and ages', () => {
    assertFinds('Ship to 1427 Maplewood Drive, Springfield, IL 62704 please', 'ADDRESS', '1427 Maplewood Drive');
    assertFinds('DOB: 03/14/1978', 'DATE_OF_BIRTH', '03/14/1978');
    assertNot('The meeting is on 03/14/2025.', 'DATE_OF_BIRTH');
    assertFinds('a 52-year-old man', 'AGE', '52-year-old');
  });
  it('health terms are internal alone and regulated with a person', () => {
    assert.equal(cls.classify('What are the symptoms of type 2 diabetes?').level, 'internal');
    assert.equal(cls.classify('Sarah Connor was diagnosed with type 2 diabetes.').level, 'regulated');
    assertFinds('MRN: 00482913', 'MEDICAL_RECORD_NUMBER', '00482913');
    assertFinds('billed under ICD-10 code E11.9', 'ICD10_CODE', 'E11.9');
  });
  it('special categories about a person are regulated', () => {
    assert.equal(cls.classify('Kevin Brandt told HR he is a devout Muslim.').level, 'regulated');
    assert.equal(cls.classify('Translate this paragraph into English.').level, 'public');
  });
});

describe('levels and combination rules', () => {
  it('nothing → public, lone name → internal, name + contact → confidential, id → regulated', () => {
    assert.equal(cls.classify('Explain TCP vs UDP.').level, 'public');
    assert.equal(cls.classify('Ask Jennifer about the slides.').level, 'internal');
    const c = cls.classify('Ask Jennifer Walsh at jennifer@brightlane.co.uk');
    assert.equal(c.level, 'confidential');
    assert.ok(c.reasons.some((r) => r.includes('name-with-contact')));
    assert.equal(cls.classify('SSN 536-22-8714').level, 'regulated');
  });
  it('uses configured level names and entity mappings', () => {
    const custom = createClassifier({ levels: ['open', 'restricted', 'secret'], entityLevels: { EMAIL_ADDRESS: 'secret' } });
    assert.equal(custom.classify('nothing here').level, 'open');
    assert.equal(custom.classify('mail bob@corp-mail.com').level, 'secret');
    assert.equal(custom.classify('card 4111 1111 1111 1111').level, 'secret');
  });
});

describe('whole request', () => {
  it('catches a card number split across two messages and reports both paths', () => {
    const c = cls.classifySegments([
      { path: 'messages[0].content', text: 'my card is 4111 1111' },
      { path: 'messages[1].content', text: '1111 1111 exp 12/29' },
    ]);
    assert.equal(c.level, 'regulated');
    const paths = c.findings.filter((f) => f.entity === 'CREDIT_CARD').map((f) => f.path).sort();
    assert.deepEqual(paths, ['messages[0].content', 'messages[1].content']);
  });
  it('uses the field path as context for bare values', () => {
    const c = cls.classifySegments([{ path: 'tools[0].function.arguments.ssn', text: '536228714' }]);
    assert.ok(c.findings.some((f) => f.entity === 'US_SSN'));
  });
});

describe('caller labels', () => {
  const base = cls.classify('Ask Jennifer about the slides.');
  it('may raise the level', () => {
    const c = cls.applyCallerLabel(base, 'regulated');
    assert.equal(c.level, 'regulated');
    assert.ok(c.reasons.some((r) => r.includes('caller label raised')));
  });
  it('never lowers it, and ignores unknown labels', () => {
    const high = cls.classify('SSN 536-22-8714');
    assert.equal(cls.applyCallerLabel(high, 'public').level, 'regulated');
    assert.equal(cls.applyCallerLabel(base, 'top-secret').level, 'internal');
    assert.equal(applyCallerLabel(high, undefined).level, 'regulated');
  });
  it('lowers only through the trusted-role hook', () => {
    const high = cls.classify('SSN 536-22-8714');
    assert.equal(cls.applyCallerLabel(high, 'internal', { mayLower: () => true }).level, 'internal');
    assert.equal(cls.applyCallerLabel(high, 'internal', { mayLower: () => false }).level, 'regulated');
  });
});

describe('fail closed', () => {
  const SECRET_VALUE = '536-22-8714';
  const throwing: Detector = {
    id: 'test.throws',
    entities: ['TEST'],
    needs: 0,
    detect(ctx) {
      throw new Error(`boom on ${ctx.text}`);
    },
  };
  const slow: Detector = {
    id: 'test.slow',
    entities: ['TEST'],
    needs: 0,
    detect() {
      const until = performance.now() + 20;
      for (let i = 0; i < 1e9 && performance.now() < until; i++);
    },
  };
  it('a detector that throws makes the result the highest level, without quoting input', () => {
    const c = createClassifier({}, { detectors: [throwing] }).classify(`hello ${SECRET_VALUE}`);
    assert.equal(c.level, 'regulated');
    assert.ok(c.reasons.some((r) => r.includes('fail-closed') && r.includes('test.throws')));
    assert.ok(!c.reasons.join('\n').includes(SECRET_VALUE));
    assert.equal(createClassifier({}, { detectors: [throwing] }).classify('nothing').level, 'regulated');
  });
  it('a detector over its time budget fails closed', () => {
    const slowCls = createClassifier({ budget: { perDetectorMs: 1, totalMs: 10_000 } }, { detectors: [slow] });
    // Short texts are timed as a whole (one clock read per text, not per detector).
    const c = slowCls.classify('nothing');
    assert.equal(c.level, 'regulated');
    assert.ok(c.reasons.some((r) => r.includes('fail-closed') && r.includes('budget')), c.reasons.join('; '));
    // Long texts are timed per detector, so the reason names the culprit.
    const long = slowCls.classify('plain words '.repeat(500));
    assert.equal(long.level, 'regulated');
    assert.ok(long.reasons.some((r) => r.includes('test.slow') && r.includes('budget')), long.reasons.join('; '));
  });
  it('a detector over its budget in one segment of a request fails the whole request closed', () => {
    const slowCls = createClassifier({ budget: { perDetectorMs: 1, totalMs: 10_000 } }, { detectors: [slow] });
    const c = slowCls.classifySegments([
      { path: 'messages[0].content', text: 'hello' },
      { path: 'messages[1].content', text: 'nothing here' },
    ]);
    assert.equal(c.level, 'regulated');
  });
  it('the total budget fails closed', () => {
    const c = createClassifier({ budget: { perDetectorMs: 10_000, totalMs: 1 } }, { detectors: [slow] }).classifySegments([
      { path: 'a', text: 'one' },
      { path: 'b', text: 'two' },
    ]);
    assert.equal(c.level, 'regulated');
    assert.ok(c.reasons.some((r) => r.includes('time budget')), c.reasons.join('; '));
  });
  it('uses the configured top level name', () => {
    const c = createClassifier({ levels: ['low', 'high'] }, { detectors: [throwing] }).classify('x');
    assert.equal(c.level, 'high');
  });
});

describe('reasons and config lists', () => {
  it('reasons never contain matched values', () => {
    const text = 'Jennifer Walsh, jennifer@brightlane.co.uk, SSN 536-22-8714, card 4111 1111 1111 1111';
    const c = cls.classify(text);
    const joined = c.reasons.join('\n');
    for (const v of ['Jennifer', 'brightlane', '536-22-8714', '4111']) assert.ok(!joined.includes(v), v);
  });
  it('custom dictionaries, patterns, allow-lists and deny-lists', () => {
    const custom = createClassifier({
      custom: {
        dictionaries: [{ entity: 'PROJECT_CODENAME', terms: ['Bluebird', 'Project Nightjar'] }],
        patterns: [{ entity: 'CLIENT_ID', pattern: 'CL-\\d{6}', context: ['client'] }],
      },
      allowList: ['4111 1111 1111 1111'],
      denyList: ['acme merger'],
    });
    assert.equal(custom.classify('status of project nightjar?').level, 'confidential');
    assert.ok(custom.classify('client CL-123456').findings.some((f) => f.entity === 'CLIENT_ID'));
    assert.ok(!custom.classify('test card 4111 1111 1111 1111').findings.some((f) => f.entity === 'CREDIT_CARD'));
    assert.ok(custom.classify('the ACME merger is next week').findings.some((f) => f.entity === 'DENY_LIST'));
    const off = createClassifier({ disabled: ['PERSON'] });
    assert.equal(off.classify('Ask Jennifer Walsh').findings.filter((f) => f.entity === 'PERSON').length, 0);
  });
});

describe('properties', () => {
  it('spans are always valid offsets into the original text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) => {
        const c = cls.classify(s);
        for (const f of c.findings) {
          assert.ok(f.start >= 0 && f.end <= s.length && f.start < f.end);
        }
        assert.ok(cls.levels.includes(c.level));
      }),
      { numRuns: 300 },
    );
  });
  it('an inserted card number is found wherever it lands, with its exact span', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
        // Keep digits and separators away from the number so the run is exactly the card.
        const pre = `${a.replace(/[\p{L}\p{N}\s.:\-\p{Cf}]+$/u, '')} `;
        const text = `${pre}4111 1111 1111 1111 ${b.replace(/^[\p{L}\p{N}\s.:\-\p{Cf}]+/u, '')}`;
        const hit = cls.classify(text).findings.find((f) => f.entity === 'CREDIT_CARD');
        assert.ok(hit !== undefined);
        assert.equal(text.slice(hit.start, hit.end), '4111 1111 1111 1111');
      }),
      { numRuns: 200 },
    );
  });
});
