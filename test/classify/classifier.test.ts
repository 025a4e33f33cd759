import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  applyCallerLabel, classifierConfigSchema, createClassifier, normalize, toOriginalSpan, type Classification, type Detector,
} from '../../src/classify/index.js';
import { loadPeopleNames } from '../../src/classify/lexicons/people-names.js';

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
  // Every structured entity has all four kinds of obfuscation from the issue (where the
  // kind applies): full-width characters, zero-width characters inside, digits split by
  // spaces, dots and dashes (entities with a digit run), and mixed case (entities with letters).
  interface Case {
    context: string;
    canonical: string;
    split?: string[];
    mixed?: string[];
  }
  const cases: Record<string, Case> = {
    CREDIT_CARD: { context: 'card', canonical: '4111111111111111', split: ['4111 1111 1111 1111', '4111.1111.1111.1111', '4111-1111-1111-1111', '4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1', '4111 1111-1111 1111'] },
    US_SSN: { context: 'my SSN is', canonical: '536-22-8714', split: ['536228714', '536 22 8714', '536.22.8714', '5-3-6-2-2-8-7-1-4'] },
    US_ITIN: { context: 'ITIN', canonical: '911-70-1234', split: ['911701234', '911 70 1234', '911.70.1234'] },
    US_PASSPORT: { context: 'passport number', canonical: 'A12803456', mixed: ['a12803456'] },
    US_DRIVER_LICENSE: { context: "driver's license", canonical: 'D4821937', mixed: ['d4821937'] },
    US_BANK_NUMBER: { context: 'bank account number', canonical: '000123456789', split: ['0001 2345 6789', '0001-2345-6789', '0001.2345.6789'] },
    IBAN_CODE: { context: 'IBAN', canonical: 'DE89370400440532013000', split: ['DE89 3704 0044 0532 0130 00', 'DE89-3704-0044-0532-0130-00'], mixed: ['de89370400440532013000', 'De89 3704 0044 0532 0130 00', 'gB82 wEST 1234 5698 7654 32'] },
    EMAIL_ADDRESS: { context: 'email', canonical: 'jane.doe@corp-mail.com', mixed: ['JANE.DOE@CORP-MAIL.COM', 'Jane.Doe@Corp-Mail.com'] },
    PHONE_NUMBER: { context: 'phone', canonical: '+14155550132', split: ['+1 415 555 0132', '+1-415-555-0132', '+1.415.555.0132', '(415) 555-0132'] },
    IP_ADDRESS: { context: 'server ip', canonical: '10.20.30.41', mixed: ['2001:DB8::1', '2001:db8::AbCd'] },
    MAC_ADDRESS: { context: 'mac', canonical: '3c:22:fb:91:0a:4e', split: ['3C-22-FB-91-0A-4E', '3c22.fb91.0a4e'], mixed: ['3C:22:fB:91:0A:4e'] },
    URL: { context: 'see', canonical: 'https://intranet.example.io/path?q=1', mixed: ['HTTPS://Intranet.Example.IO/path', 'WWW.Microsoft.com'] },
    CRYPTO: { context: 'wallet', canonical: '16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ', mixed: ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ', 'bc1qAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'] },
    UK_NINO: { context: 'NI number', canonical: 'AB123456C', split: ['AB 12 34 56 C'], mixed: ['ab123456c', 'Ab 12 34 56 c'] },
    UK_NHS: { context: 'NHS number', canonical: '4010232137', split: ['401 023 2137', '401-023-2137', '401.023.2137'] },
    DE_TAX_ID: { context: 'Steuer-ID', canonical: '12345678903', split: ['12 345 678 903', '12-345-678-903', '1 2 3 4 5 6 7 8 9 0 3'] },
    FR_NIR: { context: 'NIR', canonical: '284057311122241', split: ['2 84 05 73 111 222 41'] },
    ES_NIF: { context: 'NIF', canonical: '55555555K', split: ['55555555-K'], mixed: ['55555555k'] },
    ES_NIE: { context: 'NIE', canonical: 'X9613851N', split: ['X-9613851-N'], mixed: ['x9613851n', 'x9613851N'] },
    IT_FISCAL_CODE: { context: 'codice fiscale', canonical: 'RSSMRA85T10A562S', mixed: ['rssmra85t10a562s', 'RssMra85T10a562S'] },
    PL_PESEL: { context: 'PESEL', canonical: '44051401458', split: ['4 4 0 5 1 4 0 1 4 5 8'] },
    IN_AADHAAR: { context: 'Aadhaar', canonical: '312345678909', split: ['3123 4567 8909', '3123-4567-8909', '3123.4567.8909'] },
    IN_PAN: { context: 'PAN', canonical: 'ABCPD1234Z', mixed: ['abcpd1234z', 'AbCpD1234z'] },
    CA_SIN: { context: 'SIN', canonical: '130692544', split: ['130 692 544', '130-692-544', '130.692.544'] },
    AU_TFN: { context: 'TFN', canonical: '876543210', split: ['876 543 210', '876-543-210'] },
    SG_NRIC_FIN: { context: 'NRIC', canonical: 'S2740116C', mixed: ['s2740116c', 's2740116C'] },
  };
  const ZW_CHARS = ['\u200b', '\u200c', '\u2060', '\ufeff', '\u00ad'];
  /** A zero-width character inside the value (between two of its letters or digits). */
  const zeroWidth = (v: string, zw: string): string => {
    const at = Math.max(1, Math.floor(v.length / 2));
    return v.slice(0, at) + zw + v.slice(at);
  };

  it('covers every structured entity of the eval, with every applicable kind of obfuscation', () => {
    const structured = [
      'EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'US_ITIN', 'US_PASSPORT', 'US_DRIVER_LICENSE',
      'US_BANK_NUMBER', 'IP_ADDRESS', 'MAC_ADDRESS', 'URL', 'CRYPTO', 'UK_NINO', 'UK_NHS', 'DE_TAX_ID', 'FR_NIR', 'ES_NIF', 'ES_NIE',
      'IT_FISCAL_CODE', 'PL_PESEL', 'IN_AADHAAR', 'IN_PAN', 'CA_SIN', 'AU_TFN', 'SG_NRIC_FIN',
    ];
    assert.deepEqual(Object.keys(cases).sort(), [...structured].sort());
    for (const [entity, c] of Object.entries(cases)) {
      // A run of 4+ digits can be split; letters can be mixed-case.
      if (/\d{4}/.test(c.canonical) && !['US_PASSPORT', 'US_DRIVER_LICENSE', 'IP_ADDRESS', 'URL', 'CRYPTO', 'EMAIL_ADDRESS', 'IT_FISCAL_CODE', 'IN_PAN', 'SG_NRIC_FIN'].includes(entity)) {
        assert.ok((c.split ?? []).length > 0, `${entity} has no split-digit variant`);
      }
      if (/[A-Za-z]/.test(c.canonical) && entity !== 'CREDIT_CARD') assert.ok((c.mixed ?? []).length > 0, `${entity} has no mixed-case variant`);
    }
  });
  for (const [entity, c] of Object.entries(cases)) {
    const variants: Array<[string, string]> = [
      ['canonical', c.canonical],
      ['full-width', fullWidth(c.canonical)],
      ...ZW_CHARS.map((zw): [string, string] => [`zero-width U+${zw.charCodeAt(0).toString(16)}`, zeroWidth(c.canonical, zw)]),
      ...(c.split ?? []).map((v): [string, string] => ['split', v]),
      ...(c.split ?? []).map((v): [string, string] => ['split + full-width', fullWidth(v)]),
      ...(c.mixed ?? []).map((v): [string, string] => ['mixed case', v]),
      ...(c.mixed ?? []).map((v): [string, string] => ['mixed case + zero-width', zeroWidth(v, ZW)]),
    ];
    it(`${entity}: canonical and obfuscated forms`, () => {
      for (const [kind, v] of variants) {
        const text = `please check this ${c.context} ${v} thanks`;
        const at = text.indexOf(v);
        const hits = cls.classify(text).findings.filter((f) => f.entity === entity);
        assert.ok(hits.length > 0, `${entity} (${kind}) not found in ${JSON.stringify(text)}`);
        // The span covers the value in the ORIGINAL text (offsets map back through normalisation).
        assert.ok(hits.some((f) => f.start <= at + 1 && f.end >= at + v.length - 1), `${entity} (${kind}) span does not cover ${JSON.stringify(v)}`);
      }
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
    // Given names that are everyday words: a name only where the capital has no other reason.
    assertFinds('Ask Will whether the slides are final.', 'PERSON', 'Will');
    assertFinds('Hope Sullivan will cover the front desk.', 'PERSON', 'Hope Sullivan');
    assertNot('In May we ship the new release.', 'PERSON');
    assertNot('Mark the checklist items that are done.', 'PERSON');
    // Code identifiers and possessives.
    assertNot('Write a Python class named InvoiceParser with a parse method.', 'PERSON');
    const c = cls.classify("Summarise Angela Merkel's speech.");
    const p = c.findings.find((f) => f.entity === 'PERSON');
    assert.equal(p === undefined ? '' : "Summarise Angela Merkel's speech.".slice(p.start, p.end), 'Angela Merkel');
  });
  it('loads the real-names dictionary from its package', () => {
    const names = loadPeopleNames();
    assert.ok(names.length > 30000, `only ${names.length} names`);
    for (const n of ['Sullivan', 'Rhodes', 'Gates', 'Wong', 'Thornton']) assert.ok(names.includes(n), n);
    assert.ok(names.every((n) => !/\s|\d/.test(n)), 'entries are single name words');
  });
  it('finds real surnames that the faker lexicon lacks', () => {
    assertFinds('Please loop in Gary Sullivan on the procurement thread.', 'PERSON', 'Gary Sullivan');
    assertFinds('Nadia Rhodes will present the quarterly roadmap.', 'PERSON', 'Nadia Rhodes');
    assertFinds('Send the agenda to Kevin Wong before lunch.', 'PERSON', 'Kevin Wong');
    // A small US town in faker's place list is still a surname after a given name.
    assertFinds('Bill Thornton approved the budget for the offsite.', 'PERSON', 'Bill Thornton');
    assertFinds('Account holder Mei Ling Wong, username mlwong.', 'PERSON', 'Mei Ling Wong');
    assertFinds('Write a farewell message for Jürgen Weber.', 'PERSON', 'Jürgen Weber');
    const text = 'Vertaal: "Daan de Vries neemt de klantgesprekken over."';
    const p = cls.classify(text).findings.find((f) => f.entity === 'PERSON');
    assert.equal(p === undefined ? '' : text.slice(p.start, p.end), 'Daan de Vries');
    // A role before the name is context, not part of it.
    const t2 = 'Candidate Jean Tremblay starts in Montreal.';
    const q = cls.classify(t2).findings.find((f) => f.entity === 'PERSON');
    assert.equal(q === undefined ? '' : t2.slice(q.start, q.end), 'Jean Tremblay');
  });
  it('reads names that are everyday words from their context', () => {
    assertFinds('Drew Baker will run the retro on Thursday.', 'PERSON', 'Drew Baker');
    assertFinds('Rich Edwards asked for the revenue numbers by region.', 'PERSON', 'Rich Edwards');
    assertFinds('Agent note: Rose from billing already refunded the shipping fee.', 'PERSON', 'Rose');
    assertFinds('Let Drew know the build passed.', 'PERSON', 'Drew');
    assertFinds('Hi Patrick, Niamh suggested I reach out about your data platform.', 'PERSON', 'Niamh');
    assertFinds('Retro notes — Hiro: deploys are too slow; Lucia: flaky tests.', 'PERSON', 'Hiro');
    assertFinds("Explain Shakespeare's Hamlet in modern English.", 'PERSON', 'Shakespeare');
    assertNot('Rose gold and space grey are both out of stock.', 'PERSON');
    assertNot('Drew up a plan for the retro; can you make it shorter?', 'PERSON');
    assertNot('Rich text editing breaks on paste from Word.', 'PERSON');
  });
  it('does not read titles, eponyms and products as names', () => {
    for (const s of [
      'Summarise the Paris Agreement targets.',
      'Explain how the Marshall Plan helped rebuild Europe.',
      "Explain Newton's laws of motion to a child.",
      "Explain Dijkstra's algorithm with an example graph.",
      'Write a limerick about a Cat named Software.',
      'Generate test data with columns Name, Email, Phone and City.',
      'Summarise the plot of Pride and Prejudice in three sentences.',
      'List the Nobel Prize categories and when each was established.',
      'Create a slide titled Will Power and Habit Formation.',
      'Compare Haskell and Scala for building compilers.',
      'Our Summer Sale starts Monday; write the banner text.',
      'He is Muslim so he can take Eid off.',
      'Plan a trip to Lake Tahoe next spring.',
      'Code review from the platform team: rename the variable.',
    ]) assertNot(s, 'PERSON');
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
  it('joins segments when a value may straddle the edge: e-mail, IBAN, full-width digits', () => {
    const email = cls.classifySegments([
      { path: 'messages[0].content', text: 'write to jane.doe' },
      { path: 'messages[1].content', text: '@corp-mail.com please' },
    ]);
    assert.ok(email.findings.some((f) => f.entity === 'EMAIL_ADDRESS' && f.path === 'messages[1].content'), email.reasons.join('; '));
    const iban = cls.classifySegments([
      { path: 'a', text: 'IBAN DE89 3704' },
      { path: 'b', text: '0044 0532 0130 00' },
    ]);
    assert.equal(iban.level, 'regulated');
    const wide = cls.classifySegments([
      { path: 'a', text: `card ${fullWidth('4111 1111')}` },
      { path: 'b', text: `${ZW}${fullWidth('1111 1111')}` },
    ]);
    assert.equal(wide.level, 'regulated');
  });
  it('does not join prose segments that end and start with plain words', () => {
    const c = cls.classifySegments([
      { path: 'a', text: 'The dashboard still reports occasional spikes at midn' },
      { path: 'b', text: 'You are a helpful assistant.' },
    ]);
    assert.ok(!c.findings.some((f) => f.detector.endsWith('+cross-segment')));
  });
  it('treats every value of a field without letters as a bare value', () => {
    const c = cls.classifySegments([{ path: 'tools[0].function.arguments.values', text: '482913570 7731029384 20931847562' }]);
    assert.equal(c.level, 'regulated', c.reasons.join('; '));
    // With words around them the same numbers need context.
    assert.equal(cls.classify('we processed 482913570 events in the last run').level, 'public');
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
  it('past the total budget the remaining detectors are skipped, not run to the end', () => {
    // A megabyte of `1 1 1 …` kept every numeric detector busy for seconds after the
    // request had already failed closed.
    let lastRan = 0;
    const last: Detector = { id: 'test.last', entities: ['TEST'], needs: 0, detect: () => void lastRan++ };
    const c = createClassifier({ budget: { perDetectorMs: 10_000, totalMs: 20 } }, { detectors: [last] });
    const r = c.classify('1 '.repeat(1 << 19));
    assert.equal(r.level, 'regulated');
    assert.ok(r.reasons.some((x) => /time budget of 20 ms exceeded .*\((?:stopped|remaining detectors skipped)\)/.test(x)), r.reasons.join('; '));
    assert.equal(lastRan, 0, 'the detector after the budget ran out still ran');
    // The same detector does run when there is time.
    createClassifier({}, { detectors: [last] }).classify('1 2 3');
    assert.equal(lastRan, 1);
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
