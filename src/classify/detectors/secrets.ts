import { entropy } from '../checksums.js';
import { execAt, F_COLON, F_EQ, F_LONGRUN, startsBefore, stickyOf, type Detector, type ScanContext } from '../scan-context.js';
import type { Candidate } from '../types.js';

/**
 * Secrets, after @secretlint/secretlint-rule-preset-recommend's rules, re-implemented as
 * one synchronous pass. Measured here: @secretlint/core lintSource with the recommended
 * preset costs ~0.13 ms per call of fixed overhead, 13.4 MB/s on 2 KB chat prompts
 * (69 MB/s on 64 KB); it is also async. The whole classifier must do ≥ 20 MB/s on 2 KB
 * requests, so the patterns are ported (same prefixes, lengths, boundaries and
 * placeholder rules) and compiled once. The eval still scores us on secretlint's
 * own fixtures.
 */

interface TokenRule {
  name: string;
  re: RegExp;
  /** Capture group holding the secret (0 = whole match). */
  group?: number;
  score?: number;
  /** Extra check on the matched secret. */
  valid?: (value: string) => boolean;
  /**
   * Literal(s) every match contains. `String.prototype.includes` on these gates the
   * regex, so a prompt without any token prefix costs ~35 substring searches, not
   * ~35 regex scans (V8 cannot use its literal-prefix fast path behind a lookbehind).
   */
  triggers: string[];
}

const L = '(?<!\\p{L})';
const rules: TokenRule[] = [
  { name: 'aws-access-key-id', triggers: ['A3T', 'AKIA', 'AGPA', 'AIDA', 'AROA', 'AIPA', 'ANPA', 'ANVA', 'ASIA'], re: /\b(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}\b/g },
  {
    name: 'aws-secret-access-key', triggers: ['KEY', 'key', 'Key'],
    re: /["']?(?:AWS|aws|Aws)?_?(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/g,
    group: 1,
  },
  { name: 'aws-account-id', triggers: ['ACCOUNT', 'account', 'Account'], re: /["']?(?:AWS|aws|Aws)_?(?:ACCOUNT|account|Account)_?(?:ID|id|Id)?["']?\s*(?::|=>|=)\s*["']?\d{4}-?\d{4}-?\d{4}\b/g, score: 0.7 },
  { name: 'github-token', triggers: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], re: new RegExp(`${L}(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}(?![A-Za-z0-9_])`, 'gu') },
  { name: 'github-fine-grained-pat', triggers: ['github_pat_'], re: new RegExp(`${L}github_pat_[A-Za-z0-9_]{82}(?![A-Za-z0-9_])`, 'gu') },
  { name: 'github-app-token', triggers: ['ghs_'], re: new RegExp(`${L}ghs_\\d+_[A-Za-z0-9_.-]{20,}`, 'gu') },
  { name: 'github-oauth-url', triggers: [':x-oauth-basic@'], re: /https?:\/\/[^\s:@/]{1,256}:x-oauth-basic@github\.com\//g },
  { name: 'gitlab-token', triggers: ['glpat-'], re: new RegExp(`${L}glpat-[A-Za-z0-9_-]{20,128}(?![A-Za-z0-9_-])`, 'gu') },
  { name: 'slack-token', triggers: ['xox', 'xapp-'], re: /\b(?:xoxb|xoxp|xapp|xoxa|xoxo|xoxr|xoxs)-(?:\d-)?(?:[a-zA-Z0-9]{1,40}-)+[a-zA-Z0-9]{1,40}\b/g },
  { name: 'slack-webhook', triggers: ['hooks.slack.com'], re: /https:\/\/hooks\.slack\.com\/services\/T[a-zA-Z0-9]{1,40}\/B[a-zA-Z0-9]{1,40}\/[a-zA-Z0-9]{1,40}/gi },
  { name: 'npm-token', triggers: ['npm_'], re: new RegExp(`${L}npm_[A-Za-z0-9_]{36}(?![A-Za-z0-9_])`, 'gu') },
  { name: 'npmrc-auth-token', triggers: ['_authToken='], re: /_authToken=([^$\s][^\s]*)/g, group: 1 },
  {
    name: 'openai-key', triggers: ['sk-'],
    re: /(?<![A-Za-z0-9_-])sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})(?![A-Za-z0-9_-])/g,
  },
  { name: 'anthropic-key', triggers: ['sk-ant-'], re: new RegExp(`${L}sk-ant-(?:api|admin)\\d{2}-[A-Za-z0-9_-]{80,128}(?![A-Za-z0-9_-])`, 'gu') },
  { name: 'groq-key', triggers: ['gsk_'], re: new RegExp(`${L}gsk_[a-zA-Z0-9]{52}(?![a-zA-Z0-9])`, 'gu') },
  { name: 'huggingface-token', triggers: ['hf_'], re: new RegExp(`${L}hf_[a-zA-Z]{34}(?![a-zA-Z])`, 'gu') },
  { name: 'linear-key', triggers: ['lin_api_'], re: new RegExp(`${L}lin_api_[a-zA-Z0-9_]{32,128}(?![a-zA-Z0-9_])`, 'gu') },
  { name: 'notion-token', triggers: ['ntn_'], re: new RegExp(`${L}ntn_\\d{11}[A-Za-z0-9]{35}(?![A-Za-z0-9])`, 'gu') },
  { name: 'sendgrid-key', triggers: ['SG.'], re: new RegExp(`${L}SG\\.[\\w-]{16,32}\\.[\\w-]{20,64}(?![\\w-])`, 'gu') },
  { name: 'shopify-token', triggers: ['shppa_', 'shpca_', 'shpat_', 'shpss_'], re: new RegExp(`${L}(?:shppa|shpca|shpat|shpss)_[a-zA-Z0-9]{32,64}(?![a-zA-Z0-9])`, 'gu') },
  { name: 'vault-token', triggers: ['hvs.', 'hvb.', 'hvr.'], re: new RegExp(`${L}(?:hvs\\.[A-Za-z0-9_-]{90,120}|hvb\\.[A-Za-z0-9_-]{138,300}|hvr\\.[A-Za-z0-9_-]{90,120})(?![A-Za-z0-9_-])`, 'gu') },
  { name: 'vercel-token', triggers: ['vcp_', 'vci_', 'vca_', 'vcr_', 'vck_'], re: new RegExp(`${L}(?:vcp|vci|vca|vcr|vck)_[A-Za-z0-9]{20,60}(?![A-Za-z0-9])`, 'gu') },
  { name: 'databricks-token', triggers: ['dapi'], re: new RegExp(`${L}dapi[A-Fa-f0-9]{32}(?:-\\d)?(?![A-Fa-f0-9])`, 'gu') },
  { name: 'docker-pat', triggers: ['dckr_pat_'], re: new RegExp(`${L}dckr_pat_[a-zA-Z0-9_-]{27}(?![a-zA-Z0-9_-])`, 'gu') },
  { name: 'figma-token', triggers: ['figd_'], re: new RegExp(`${L}figd_[A-Za-z0-9_-]{40,200}(?![A-Za-z0-9_-])`, 'gu') },
  { name: 'grafana-token', triggers: ['glc_', 'glsa_'], re: new RegExp(`${L}(?:glc_[A-Za-z0-9+/]{32,400}={0,2}(?![A-Za-z0-9+/=])|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![A-Fa-f0-9]))`, 'gu') },
  { name: '1password-token', triggers: ['ops_ey'], re: new RegExp(`${L}ops_ey[A-Za-z0-9+/=]{100,1280}fQ={0,2}(?![A-Za-z0-9+/=])`, 'gu') },
  { name: 'tailscale-key', triggers: ['tskey-'], re: new RegExp(`${L}tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{10,}(?![A-Za-z0-9])`, 'gu') },
  { name: 'cloudflare-token', triggers: ['cfat_', 'cfut_', 'cfk_'], re: new RegExp(`${L}cf(?:at|ut|k)_[A-Za-z0-9]{40}[a-f0-9]{8}(?![A-Za-z0-9])`, 'gu') },
  { name: 'stripe-key', triggers: ['_live_', '_test_'], re: /(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99}(?![A-Za-z0-9])/g },
  { name: 'google-api-key', triggers: ['AIza'], re: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g },
  { name: 'jwt', triggers: ['eyJ'], re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, score: 0.9 },
  {
    name: 'azure-ids', triggers: ['_id', '_ID', 'Id'],
    re: /(?:azure|ad|AZURE|AD)_?(?:client|tenant|CLIENT|TENANT)_?(?:id|ID)["']?\s*(?::|=|:=)\s*["']?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g,
    score: 0.6,
  },
  { name: 'secp256k1-private-key', triggers: ['0x'], re: /(?<![0-9A-Za-z])0x([0-9a-fA-F]{64})(?![0-9A-Za-z])/g, group: 1, valid: (v) => !/^0+$/.test(v), score: 0.75 },
];

const PEM = /-----BEGIN[ ]?(?:(?:RSA|DSA|EC|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY(?: BLOCK)?-----(?:\\n|\s)*([A-Za-z0-9+/=\s\\:,-]{0,20000}?)-----END[ ]?(?:(?:RSA|DSA|EC|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_OPEN = /-----BEGIN[ ]?(?:(?:RSA|DSA|EC|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY(?: BLOCK)?-----/g;

// Credentials in URLs: scheme://user:password@host.
const URL_CRED = /\b((?:https?|ftps?|mongodb(?:\+srv)?|(?:jdbc:)?mysqlx?|postgres(?:ql)?|redis|rediss|amqps?|mssql|sqlserver|mariadb|ldaps?|smtps?):\/\/)([^:/\s@]{1,100}):([^@/\s]{1,200})@([^/\s?"'`)]{1,200})/g;
const URL_CRED_AT = stickyOf(URL_CRED);
/** Every URL_CRED match has its "://" right after its scheme, which is 3 ("ftp") to 11 ("jdbc:mysqlx", "mongodb+srv") characters long. */
const SCHEME_LENGTHS = [3, 4, 5, 6, 7, 8, 9, 10, 11];
const PLACEHOLDERS = ['localhost', '127.0.0.1', 'password', 'mypassword', 'myusername', 'your_password', 'your_username', 'replace_with_password', 'replace_with_username', 'changeme', 'example'];
const VARIABLE = /\$\([^)]{1,50}\)|\$\{[^}]{1,50}\}|\{\{[^}]{1,50}\}\}|\{[^}]{1,50}\}|%[A-Z_]{1,30}%|\$[A-Z_]{1,30}|<[^>]{1,40}>/;

function likelyRealPassword(pw: string): boolean {
  if (pw.length < 4 || VARIABLE.test(pw) || /^(.)\1{3,}$/.test(pw) || /^[*x•.]+$/i.test(pw)) return false;
  const lower = pw.toLowerCase();
  return !PLACEHOLDERS.some((p) => lower === p);
}

// key = value assignments whose key names a secret.
/**
 * Literals every ASSIGN key contains (secret, password/passwd/passphrase, pwd, token,
 * every *key, credential(s)). ASSIGN is case-insensitive ASCII, so a text whose lower-cased
 * form holds none of them has no match; lower-casing only maps letters to letters, so it
 * cannot hide one. Checked with indexOf (native), where the full regex scan cost ~5% of
 * a 2 KB chat request on prose that has none.
 */
const ASSIGN_KEYWORDS = ['key', 'secret', 'pass', 'pwd', 'token', 'credential'];
const ASSIGN = /(?<![A-Za-z0-9])((?:[A-Za-z_][A-Za-z0-9_.-]{0,40}?)?(?:secret|password|passwd|passphrase|pwd|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret|credentials?|signing[_-]?key|encryption[_-]?key)[A-Za-z0-9_]{0,20})["']?\s*(?::=|=>|=|:)\s*(["'`]?)([^\s"'`,;]{8,300})\2/gi;

function looksSecret(v: string): boolean {
  if (VARIABLE.test(v) || /^(?:true|false|null|none|undefined|required|optional|string|\*+|x+)$/i.test(v)) return false;
  // Documentation placeholders ("hvs.example", "your-token-here").
  if (/example|sample|dummy|placeholder|changeme|your[_-]|xxxx|redacted/i.test(v)) return false;
  // snake/kebab-case words ("not_a_real_token") are names, not secrets.
  if (/^[a-z]+(?:[_-][a-z]+)+$/.test(v)) return false;
  // URLs are judged by the URL-credential detector, which knows placeholders and defaults.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return false;
  if (/^(?:process\.env|os\.environ|env\.|secrets\.|vault:|arn:|file:|https?:\/\/)/i.test(v)) return false;
  // Words, paths and numbers are not secrets; a secret mixes classes with high entropy.
  let classes = 0;
  if (/[a-z]/.test(v)) classes++;
  if (/[A-Z]/.test(v)) classes++;
  if (/\d/.test(v)) classes++;
  if (/[^A-Za-z0-9]/.test(v)) classes++;
  if (classes < 2) return v.length >= 20 && entropy(v) >= 3.5;
  return entropy(v) >= (v.length >= 20 ? 3.2 : 2.8);
}

function push(out: Candidate[], start: number, end: number, score: number, name: string): void {
  out.push({ entity: 'SECRET', start, end, score, detector: `secret.${name}` });
}

// All rule triggers in one alternation: one scan of the text tells which rules can match
// (70 separate includes() calls cost 10% of the whole classifier on prose).
const TRIGGERS = new RegExp([...new Set(rules.flatMap((r) => r.triggers))].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');

function scanTokens(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  const present = new Set<string>();
  // Without a 20+ character token run only the short AWS account-id form can be present.
  if (!(ctx.flags & F_LONGRUN)) {
    if ((ctx.flags & (F_EQ | F_COLON)) && /account/i.test(text)) present.add('account').add('ACCOUNT').add('Account');
  } else TRIGGERS.lastIndex = 0;
  if (ctx.flags & F_LONGRUN)
  for (let m = TRIGGERS.exec(text); m !== null; m = TRIGGERS.exec(text)) present.add(m[0]);
  if (present.size === 0) return;
  for (const rule of rules) {
    if (!rule.triggers.some((t) => present.has(t))) continue;
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(text); m !== null; m = rule.re.exec(text)) {
      const g = rule.group ?? 0;
      const value = m[g] ?? m[0];
      if (rule.valid && !rule.valid(value)) continue;
      const start = g === 0 ? m.index : m.index + m[0].indexOf(value);
      push(out, start, start + value.length, rule.score ?? 0.95, rule.name);
    }
  }
}

export const secretTokenDetector: Detector = {
  id: 'secret.tokens',
  entities: ['SECRET'],
  // Every token shape has a digit, '_', '-' or '.' plus letters; the digit gate alone
  // would miss hf_/figd_ tokens made of letters only, so this one always runs, but it
  // only runs regexes with literal prefixes, which V8 scans for with memchr-like speed.
  needs: 0,
  detect(ctx, out) {
    scanTokens(ctx, out);
  },
};

export const privateKeyDetector: Detector = {
  id: 'secret.private-key',
  entities: ['SECRET'],
  needs: 0,
  detect(ctx, out) {
    const text = ctx.text;
    if (text.indexOf('PRIVATE KEY') < 0) return;
    const covered: Array<[number, number]> = [];
    PEM.lastIndex = 0;
    for (let m = PEM.exec(text); m !== null; m = PEM.exec(text)) {
      const body = (m[1] ?? '').replace(/\\n|\s/g, '');
      // Placeholders ("...", "xxx", short samples) are not keys; real ones are long base64.
      if (body.length < 64 || /^[.x*]+$/i.test(body) || /(.)\1{20,}/.test(body)) continue;
      push(out, m.index, m.index + m[0].length, 0.95, 'private-key');
      covered.push([m.index, m.index + m[0].length]);
    }
    // A header followed by key material but cut off (no END line) is still a key.
    PEM_OPEN.lastIndex = 0;
    for (let m = PEM_OPEN.exec(text); m !== null; m = PEM_OPEN.exec(text)) {
      if (covered.some(([s, e]) => m!.index >= s && m!.index < e)) continue;
      const after = text.slice(m.index + m[0].length, m.index + m[0].length + 200).replace(/\\n|\s/g, '');
      if (/^[A-Za-z0-9+/=]{64}/.test(after) && !/(.)\1{20,}/.test(after)) push(out, m.index, m.index + m[0].length + 64, 0.9, 'private-key');
    }
  },
};

export const urlCredentialDetector: Detector = {
  id: 'secret.url-credentials',
  entities: ['SECRET'],
  needs: F_COLON,
  detect(ctx, out) {
    const text = ctx.text;
    execAt(URL_CRED_AT, text, startsBefore(text, '://', SCHEME_LENGTHS), (m) => {
      const user = m[2]!;
      const pw = m[3]!;
      // user == password (postgres:postgres) is a local default, not a secret.
      if (VARIABLE.test(user) || pw === user || !likelyRealPassword(pw)) return;
      let end = m.index + m[0].length;
      const scheme = m[1]!.toLowerCase();
      const isDb = !/^(?:https?|ftps?):/.test(scheme);
      // Database URLs keep their path and options (the secretlint span); web URLs stop at the host.
      if (isDb) {
        const rest = /^[^\s"'`]*/.exec(text.slice(end));
        if (rest) end += rest[0].replace(/[)"';,.]+$/, '').length;
      }
      push(out, m.index, end, 0.9, isDb ? 'connection-string' : 'basic-auth');
    });
  },
};

export const assignmentDetector: Detector = {
  id: 'secret.assignment',
  entities: ['SECRET'],
  needs: 0,
  detect(ctx, out) {
    if (!(ctx.flags & (F_EQ | F_COLON))) return;
    const lower = ctx.lower;
    if (!ASSIGN_KEYWORDS.some((w) => lower.includes(w))) return;
    const text = ctx.text;
    ASSIGN.lastIndex = 0;
    for (let m = ASSIGN.exec(text); m !== null; m = ASSIGN.exec(text)) {
      const value = m[3]!;
      if (!looksSecret(value)) continue;
      const start = m.index + m[0].lastIndexOf(value);
      push(out, start, start + value.length, 0.75, 'assignment');
    }
  },
};

export const secretDetectors: readonly Detector[] = [secretTokenDetector, privateKeyDetector, urlCredentialDetector, assignmentDetector];
