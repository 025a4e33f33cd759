import assert from 'node:assert/strict';
import { repoRoot } from '../helpers/paths.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SqliteRecordStore } from '../../src/record/sqlite/sqlite-store.js';
import { startStack, type TestStack } from '../helpers/gateway.js';

const ADMIN = 'sk-perimeter-ui-admin-0123456789';
const VIEWER = 'sk-perimeter-ui-viewer-0123456789';
const USER = 'sk-perimeter-ui-user-0123456789';
const CHROMIUM = process.env.PERIMETER_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots go here (kept after the run, as test artifacts); override with PERIMETER_UI_ARTIFACTS. */
const ARTIFACTS = process.env.PERIMETER_UI_ARTIFACTS ?? join(repoRoot, 'test-artifacts', 'ui');

const AUTH = `auth:
  required: true
  keys:
    - { id: ui-admin, insecurePlaintext: ${ADMIN}, owner: ops, roles: [admin] }
    - { id: ui-viewer, insecurePlaintext: ${VIEWER}, owner: ops, roles: [viewer] }
    - { id: ui-user, insecurePlaintext: ${USER}, owner: app, team: payments }`;

const POLICY = `policy:
  matrix:
    regulated:    { any: [on-prem] }
    confidential: { any: [on-prem, private-cloud] }
    internal:     { any: [on-prem, private-cloud] }
    public:       { basic: [on-prem, public-api, private-cloud], mid: [public-api, private-cloud, on-prem], frontier: [public-api, private-cloud, on-prem] }
  rules:
    - { id: secrets-stay-on-prem, when: { entities: [SECRET] }, effects: { allow_tiers: [on-prem] } }`;

function recordsYaml(dir: string): string {
  return `records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }`;
}

async function chat(url: string, model: string, content: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function admin<T>(url: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.status, 200, `${path} → ${res.status}`);
  return (await res.json()) as T;
}

/** Polls a gateway condition a bounded number of times (records reach the store through a queue). */
async function until(check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('condition not reached');
}

const chromiumPresent = existsSync(CHROMIUM);

describe('dashboard in headless Chromium', { skip: chromiumPresent ? false : `no Chromium at ${CHROMIUM}` }, () => {
  let stack: TestStack;
  let fresh: TestStack;
  let browser: Browser;
  let dir: string;
  const REGULATED = 'Patient Maria Lopez, IBAN DE89 3704 0044 0532 0130 00, diagnosis code F32.1, insurance number A123456789.';
  const sent = { publicOk: 0, regulatedOnPrem: 0, regulatedRefused: 0, other: 0, otherOnPrem: 0 };
  const total = (): number => sent.publicOk + sent.regulatedOnPrem + sent.regulatedRefused + sent.other + sent.otherOnPrem;
  /** The record store the gateway writes, opened beside it: what every page must agree with. */
  let store: SqliteRecordStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'perimeter-ui-'));
    stack = await startStack({ authYaml: AUTH, extraYaml: `${POLICY}\n${recordsYaml(dir)}` });
    fresh = await startStack({ authYaml: AUTH, extraYaml: `${POLICY}\n${recordsYaml(mkdtempSync(join(tmpdir(), 'perimeter-ui-empty-')))}` });
    // A mix of every level: public to the public API, regulated on-prem, regulated
    // asking for a public model (refused), confidential to private cloud.
    for (let i = 0; i < 4; i++) if ((await chat(stack.url, 'gpt-4.1-mini', `What is the capital of France? (${i})`)) === 200) sent.publicOk++;
    for (let i = 0; i < 3; i++) if ((await chat(stack.url, 'llama-3.1-8b-instruct', `${REGULATED} Summarise case ${i}.`)) === 200) sent.regulatedOnPrem++;
    for (let i = 0; i < 2; i++) if ((await chat(stack.url, 'gpt-4.1-mini', `${REGULATED} Summarise case ${i}.`)) >= 400) sent.regulatedRefused++;
    for (let i = 0; i < 2; i++) if ((await chat(stack.url, 'gpt-4o', `Internal memo ${i}: our Q3 revenue target is confidential, do not share.`)) === 200) sent.other++;
    // Internal (a lone name) and confidential (contact details), so every level appears.
    for (let i = 0; i < 2; i++) if ((await chat(stack.url, 'llama-3.1-8b-instruct', `Please ask Sarah Johnson to review draft ${i}.`)) === 200) sent.otherOnPrem++;
    for (let i = 0; i < 2; i++) if ((await chat(stack.url, 'llama-3.1-8b-instruct', `Send invoice ${i} to jane.doe@acme-corp.io today.`)) === 200) sent.otherOnPrem++;
    assert.equal(sent.regulatedRefused, 2, 'regulated data asking for a public model is refused');
    await until(async () => (await admin<{ total: number }>(stack.url, '/admin/records?range=1h')).total === total());
    store = new SqliteRecordStore(join(dir, 'records.db'));
    mkdirSync(ARTIFACTS, { recursive: true });
    // Playwright gives every launch a fresh temporary profile (it refuses --user-data-dir here).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await store?.close();
    await stack?.close();
    await fresh?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A page that may only talk to the gateway under test; anything else fails the test. */
  async function open(base: string, width = 1366): Promise<{ page: Page; foreign: string[] }> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const foreign: string[] = [];
    await page.route('**/*', async (route) => {
      const u = route.request().url();
      if (u.startsWith(`${base}/`)) return route.continue();
      foreign.push(u);
      return route.abort();
    });
    return { page, foreign };
  }

  async function signIn(page: Page, base: string, key: string): Promise<void> {
    await page.goto(`${base}/ui#/overview`);
    await page.getByLabel('Admin or viewer API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  it('asks for a key when unauthenticated, and refuses a key without the admin or viewer role', async () => {
    const { page, foreign } = await open(stack.url);
    await page.goto(`${stack.url}/ui`);
    await page.getByTestId('login').waitFor();
    assert.equal(await page.locator('#nav').isHidden(), true);
    const direct = await fetch(`${stack.url}/admin/stats/overview`);
    assert.equal(direct.status, 401);
    await page.getByLabel('Admin or viewer API key').fill(USER);
    await page.keyboard.press('Enter');
    await page.getByText('That key does not have the admin or viewer role.').waitFor();
    await shot(page, 'login');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('overview shows the traffic that was sent, per tier and level', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, VIEWER);
    await page.getByTestId('kpi-requests').waitFor();
    assert.equal(await page.getByTestId('kpi-requests').textContent(), String(total()));
    assert.equal(await page.getByTestId('kpi-rejected').textContent(), String(sent.regulatedRefused));
    const mix = page.getByTestId('sensitivity-mix');
    const levels = await store.aggregate({}, ['level']);
    assert.deepEqual(levels.map((l) => l.key.level).sort(), ['confidential', 'internal', 'public', 'regulated'], 'traffic of every level was sent');
    assert.equal(levels.find((l) => l.key.level === 'regulated')?.requests, sent.regulatedOnPrem + sent.regulatedRefused);
    for (const l of levels) {
      assert.match((await mix.locator(`[data-key="${l.key.level ?? ''}"] .num`).textContent()) ?? '', new RegExp(`^${l.requests} `), `level ${l.key.level}`);
    }
    const tiers = await store.aggregate({ status: 'ok' }, ['tier']);
    for (const t of tiers) {
      assert.equal(await page.getByTestId('latency-table').locator(`tr[data-tier="${t.key.tier ?? ''}"] td:nth-child(2)`).textContent(), String(t.requests), `tier ${t.key.tier}`);
    }
    assert.equal(tiers.find((t) => t.key.tier === 'on-prem')?.requests, sent.regulatedOnPrem + sent.otherOnPrem);
    await page.locator('[data-testid="chart-requests"] canvas').waitFor();
    await page.getByTestId('onprem-utilisation').waitFor();
    await shot(page, 'overview-1366');
    await page.setViewportSize({ width: 2560, height: 1200 });
    await page.reload();
    await page.locator('[data-testid="chart-requests"] canvas').waitFor();
    await shot(page, 'overview-2560');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('decisions: filters, and an explanation that opens by keyboard and holds no raw content', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.goto(`${stack.url}/ui#/decisions`);
    const table = page.getByTestId('decisions-table');
    await table.waitFor();
    assert.equal(await table.locator('tbody tr').count(), total());
    await page.getByLabel('Status').selectOption('rejected');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(`document.querySelectorAll('[data-testid="decisions-table"] tbody tr').length === 2`);
    assert.match((await page.getByTestId('decisions-total').textContent()) ?? '', /of 2/);
    // Keyboard only: Tab to the first row's explain button, Enter opens the explanation.
    const first = table.locator('tbody tr button').first();
    await first.focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    assert.equal(await first.evaluate((el) => el === el.ownerDocument.activeElement), true);
    await page.keyboard.press('Enter');
    const explanation = page.getByTestId('explanation');
    await explanation.waitFor();
    assert.equal(await page.getByTestId('explanation-level').textContent(), 'regulated');
    const rejected = (await page.getByTestId('rejected-candidates').textContent()) ?? '';
    assert.match(rejected, /public-api/);
    assert.match(rejected, /excluded by/);
    assert.equal(await page.getByTestId('eligible-tiers').textContent(), 'on-prem');
    const html = await page.content();
    for (const raw of ['Maria', 'Lopez', 'DE89', 'F32.1', 'A123456789', 'Summarise', 'capital of France']) assert.ok(!html.includes(raw), `raw content "${raw}" must never reach the UI`);
    await shot(page, 'decisions');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('cost shows actual against everything-on-public-api', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.goto(`${stack.url}/ui#/cost`);
    await page.getByTestId('cost-tiers').waitFor();
    for (const t of await store.aggregate({ status: 'ok' }, ['tier'])) {
      const row = page.getByTestId('cost-tiers').locator(`tr[data-tier="${t.key.tier ?? ''}"]`);
      assert.equal(await row.locator('td:nth-child(2)').textContent(), String(t.requests));
      assert.equal(await row.locator('td:nth-child(3)').textContent(), t.inputTokens.toLocaleString('en'));
    }
    assert.equal(await page.getByTestId('cost-tiers').locator('tr[data-tier="public-api"] td:nth-child(2)').textContent(), String(sent.publicOk));
    assert.ok(((await page.getByTestId('cost-reference').textContent()) ?? '').startsWith('$'));
    await page.getByTestId('cost-blended').waitFor();
    await page.locator('[data-testid="chart-cost-tiers"] canvas').waitFor();
    await shot(page, 'cost');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('residency: the audit chain verifies and regulated × public-api is 0', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.goto(`${stack.url}/ui#/residency`);
    await page.getByTestId('chain-status').waitFor();
    assert.match((await page.getByTestId('chain-status').textContent()) ?? '', /^Audit chain verified/);
    assert.equal(await page.getByTestId('residency-critical').textContent(), '0');
    const regulated = page.getByTestId('residency').locator('tr[data-level="regulated"] td[data-tier="on-prem"]');
    assert.equal(await regulated.textContent(), String(sent.regulatedOnPrem));
    assert.match((await page.getByTestId('not-served').textContent()) ?? '', new RegExp(`regulated${sent.regulatedRefused}`));
    await shot(page, 'residency');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('backends shows every backend with its breaker and attempts', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.goto(`${stack.url}/ui#/backends`);
    await page.getByTestId('backends-table').waitFor();
    assert.equal(await page.getByTestId('backends-table').locator('tbody tr').count(), 4);
    assert.equal(await page.getByTestId('attempts-onprem-vllm').textContent(), String(sent.regulatedOnPrem + sent.otherOnPrem));
    assert.match((await page.getByTestId('backends-table').locator('tr[data-backend="public-openai"]').textContent()) ?? '', /closed/);
    await shot(page, 'backends');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('policy shows the matrix, rule hits and version', async () => {
    const { page, foreign } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.goto(`${stack.url}/ui#/policy`);
    await page.getByTestId('policy-matrix').waitFor();
    const p = await admin<{ version: string }>(stack.url, '/admin/stats/policy?range=24h');
    assert.equal(await page.getByTestId('policy-version').textContent(), p.version);
    assert.equal(await page.getByTestId('policy-matrix').locator('tr[data-level="regulated"] td[data-capability="frontier"]').textContent(), 'on-prem');
    await page.getByTestId('hits-secrets-stay-on-prem').waitFor();
    await shot(page, 'policy');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });

  it('navigates by keyboard alone', async () => {
    const { page } = await open(stack.url);
    await signIn(page, stack.url, ADMIN);
    await page.getByTestId('kpi-requests').waitFor();
    // From the top of the document: skip link, then the page links in order.
    await page.locator('body').focus();
    const reached: string[] = [];
    for (let i = 0; i < 8 && !reached.includes('Residency'); i++) {
      await page.keyboard.press('Tab');
      reached.push(String(await page.evaluate('document.activeElement?.textContent ?? ""')).trim());
    }
    assert.ok(reached.includes('Residency'), `tab order: ${reached.join(' | ')}`);
    await page.keyboard.press('Enter');
    await page.getByTestId('chain-status').waitFor();
    assert.equal(await page.evaluate('location.hash'), '#/residency');
    await page.context().close();
  });

  it('a fresh gateway shows empty states, not errors', async () => {
    const { page, foreign } = await open(fresh.url);
    await signIn(page, fresh.url, ADMIN);
    await page.getByTestId('empty').first().waitFor();
    assert.equal(await page.getByTestId('kpi-requests').textContent(), '0');
    assert.equal(await page.getByTestId('error').count(), 0);
    await page.goto(`${fresh.url}/ui#/decisions`);
    await page.getByText('No decisions match these filters in this period.').waitFor();
    await page.goto(`${fresh.url}/ui#/residency`);
    assert.equal(await page.getByTestId('residency-critical').textContent(), '0');
    await shot(page, 'empty-residency');
    assert.deepEqual(foreign, []);
    await page.context().close();
  });
});

describe('dashboard endpoints', () => {
  it('latency percentiles use nearest rank on real spreads (SQLite)', async () => {
    const { sampleRecord } = await import('../record/support.js');
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-ui-pct-'));
    const store = new SqliteRecordStore(join(dir, 'r.db'));
    await store.migrate();
    const records = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((ms, i) => {
      const r = sampleRecord(i, { tier: 'on-prem' });
      return { ...r, latency: { ...r.latency, totalMs: ms } };
    });
    await store.append(records);
    const [row] = await store.latencyPercentiles({}, ['tier'], [50, 95, 100]);
    assert.deepEqual(row?.latencyMs, { 50: 50, 95: 100, 100: 100 });
    const [all] = await store.latencyPercentiles({}, [], [10]);
    assert.equal(all?.latencyMs[10], 10);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
