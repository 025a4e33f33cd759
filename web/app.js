// Perimeter dashboard: plain ES modules, no build step. Every number comes from the
// gateway's own /admin API (same origin); the page never calls anything else.
// DOM is built with textContent only, so nothing from the API is parsed as HTML.
import { lineChart } from './charts.js';

const KEY = 'perimeter.dashboard.key';
const TIERS = ['on-prem', 'private-cloud', 'public-api'];
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const tools = document.getElementById('tools');
const rangeSelect = document.getElementById('range');

// ------------------------------------------------------------------ helpers

/** h('div', { class: 'x' }, 'text', child): attributes, text and nodes; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const nf = new Intl.NumberFormat('en');
const num = (n) => (n === null || n === undefined ? '–' : nf.format(n));
const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(x > 0 && x < 0.001 ? 2 : 1)}%`);
const ms = (x) => (x === null || x === undefined ? '–' : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`);
const usd = (x) => (x === null || x === undefined ? '–' : `$${x < 1 && x > 0 ? x.toFixed(4) : x.toFixed(2)}`);
const tag = (value, cls = value) => h('span', { class: `tag ${cls ?? ''}` }, value ?? '–');
const time = (iso) => new Date(iso).toLocaleString();

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET from the gateway's admin API with the key from this tab's session. */
async function api(path) {
  const key = sessionStorage.getItem(KEY);
  if (key === null) throw new ApiError(401, 'Sign in with an admin or viewer key.');
  let res;
  try {
    res = await fetch(path, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' }, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'The gateway did not answer. Is it running?');
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `The gateway answered ${res.status}.`);
  return body;
}

const range = () => rangeSelect.value;

function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

function kpi(label, value, note, testid) {
  return h('div', { class: 'card kpi' }, h('div', { class: 'label' }, label), h('div', { class: 'value', 'data-testid': testid }, value), note ? h('div', { class: 'note' }, note) : null);
}

function table(headers, rows, options = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': options.testid },
      options.caption ? h('caption', { class: 'sr-only' }, options.caption) : null,
      h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label ?? c)))),
      h('tbody', {}, rows),
    ),
  );
}

function td(value, numeric = false, attrs = {}) {
  return h('td', { class: numeric ? 'num' : null, ...attrs }, value);
}

function empty(message) {
  return h('div', { class: 'state', 'data-testid': 'empty', role: 'status' }, message);
}

function bars(rows, options = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const scale = options.max ?? max;
  return h(
    'div',
    { class: 'bars', 'data-testid': options.testid },
    rows.map((r) =>
      h(
        'div',
        { class: 'bar-row', 'data-key': r.label },
        h('span', {}, r.label),
        h(
          'div',
          { class: 'bar-track', role: 'img', 'aria-label': `${r.label}: ${r.text}` },
          h('div', { class: 'bar-fill', style: `width:${Math.min(100, (r.value / scale) * 100)}%;background:${r.color ?? 'var(--accent)'}` }),
          options.threshold === undefined ? null : h('div', { class: 'bar-threshold', title: `threshold ${pct(options.threshold)}`, style: `left:${options.threshold * 100}%` }),
        ),
        h('span', { class: 'num' }, r.text),
      ),
    ),
  );
}

function tierColor(tier) {
  return `var(--${TIERS.includes(tier) ? tier : 'none'})`;
}

// ------------------------------------------------------------------ shell and routing

function pageShell(title, subtitle) {
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, subtitle ? h('p', { class: 'sub' }, subtitle) : null);
  return heading;
}

let generation = 0;

/** Runs a page: loading state, then the page, or an error with a retry; stale loads are dropped. */
async function run(title, subtitle, load, render) {
  const mine = ++generation;
  const heading = pageShell(title, subtitle);
  const body = h('div', { 'aria-busy': 'true' }, h('div', { class: 'state', role: 'status', 'data-testid': 'loading' }, 'Loading…'));
  main.append(body);
  heading.focus({ preventScroll: true });
  try {
    const data = await load();
    if (mine !== generation) return;
    body.removeAttribute('aria-busy');
    body.replaceChildren(...[render(data)].flat().filter(Boolean));
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(KEY);
      showLogin(err.status === 403 ? 'That key does not have the admin or viewer role.' : 'Your key was not accepted. Sign in again.');
      return;
    }
    body.removeAttribute('aria-busy');
    body.replaceChildren(
      h('div', { class: 'state error', role: 'alert', 'data-testid': 'error' }, h('div', {}, `Could not load this page: ${err.message}`), h('button', { type: 'button', onclick: () => route() }, 'Retry')),
    );
  }
}

function showLogin(message) {
  generation++;
  nav.hidden = true;
  tools.hidden = true;
  const input = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off', required: true, 'aria-describedby': 'key-help', spellcheck: 'false' });
  const form = h(
    'form',
    {
      'data-testid': 'login',
      onsubmit: (e) => {
        e.preventDefault();
        const key = input.value.trim();
        if (key === '') return;
        // Session storage: the key lives as long as this tab and is sent only to this gateway.
        sessionStorage.setItem(KEY, key);
        route();
      },
    },
    h('label', { for: 'key' }, 'Admin or viewer API key'),
    input,
    h('small', { id: 'key-help' }, 'Kept in this browser tab only (session storage) and sent as a Bearer token to this gateway.'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  main.replaceChildren(h('section', { class: 'card login' }, h('h1', {}, 'Sign in'), form));
  input.focus();
}

const PAGES = {
  overview: renderOverview,
  decisions: renderDecisions,
  cost: renderCost,
  residency: renderResidency,
  backends: renderBackends,
  policy: renderPolicy,
};

function route() {
  if (sessionStorage.getItem(KEY) === null) return showLogin();
  nav.hidden = false;
  tools.hidden = false;
  const [, page = 'overview', ...rest] = location.hash.replace(/^#/, '').split('/');
  const name = Object.hasOwn(PAGES, page) ? page : 'overview';
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  PAGES[name](rest.map(decodeURIComponent));
}

window.addEventListener('hashchange', route);
rangeSelect.addEventListener('change', () => route());
document.getElementById('refresh').addEventListener('click', () => route());
document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  showLogin('Signed out.');
});

// ------------------------------------------------------------------ pages

function periodNote(p) {
  return `${new Date(p.since).toLocaleString()} – ${new Date(p.until).toLocaleString()}`;
}

function renderOverview() {
  run('Overview', 'Where requests went, how they did, and how full on-prem is.', () => api(`/admin/stats/overview?range=${range()}`), (d) => {
    const t = d.totals;
    const kpis = h(
      'div',
      { class: 'kpis' },
      kpi('Requests', num(t.requests), periodNote(d.period), 'kpi-requests'),
      kpi('Error rate', pct(t.errorRate), `${num(t.errors)} not ok`, 'kpi-error-rate'),
      kpi('Refused by policy', num(t.rejected), 'status rejected', 'kpi-rejected'),
      kpi('Cost (recorded)', usd(t.cost), 'list price / blended on-prem rate', 'kpi-cost'),
    );
    const util = card(
      'On-prem utilisation',
      d.onPrem.backends.length === 0
        ? empty('No on-prem backend is configured.')
        : bars(
            d.onPrem.backends.map((b) => ({ label: b.backend, value: b.utilisation, text: `${pct(b.utilisation)} (${b.inFlight}/${b.limit ?? '∞'})`, color: 'var(--on-prem)' })),
            { max: 1, threshold: d.onPrem.threshold, testid: 'onprem-utilisation' },
          ),
      h('p', { class: 'legend-note' }, `In flight now against maxConcurrency. Red mark: overflow threshold ${pct(d.onPrem.threshold)} (routing.onPremThreshold); above it, requests overflow to other eligible tiers.`),
    );
    if (t.requests === 0) {
      return [kpis, empty('No requests in this period yet. Send traffic through the gateway and refresh.'), h('div', { class: 'grid' }, util)];
    }
    const x = d.series.buckets.map((b) => b / 1000);
    return [
      kpis,
      h(
        'div',
        { class: 'grid' },
        card('Requests over time, per tier (stacked)', lineChart({ x, series: d.series.tiers.map((s) => ({ label: s.name === 'none' ? 'not served' : s.name, values: s.values, color: tierColor(s.name) })), stacked: true, testid: 'chart-requests' })),
        card('Error rate over time', lineChart({ x, series: [{ label: 'error rate', values: d.series.errorRate.map((v) => v * 100), color: 'var(--bad)' }], unit: '%', testid: 'chart-errors' })),
        card(
          'Sensitivity mix',
          bars(
            d.levels.map((l) => ({ label: l.level, value: l.requests, text: `${num(l.requests)} (${pct(l.requests / t.requests)})` })),
            { testid: 'sensitivity-mix' },
          ),
        ),
        card(
          'Latency per tier (served requests)',
          table(
            ['Tier', { label: 'Requests', num: true }, { label: 'p50', num: true }, { label: 'p95', num: true }],
            d.latency.map((l) => h('tr', { 'data-tier': l.tier }, td(tag(l.tier)), td(num(l.requests), true), td(ms(l.p50Ms), true), td(ms(l.p95Ms), true))),
            { testid: 'latency-table' },
          ),
        ),
        util,
      ),
    ];
  });
}

// Decisions: filters live in the hash's query-less state object, so Back returns to them.
const decisionState = { filters: {}, offset: 0, options: null };

async function decisionOptions() {
  if (decisionState.options === null) {
    const p = await api('/admin/stats/policy?range=1h');
    decisionState.options = { levels: p.levels, rules: p.rules.map((r) => r.id) };
  }
  return decisionState.options;
}

function renderDecisions(params) {
  const selected = params[0];
  const qs = () => {
    const q = new URLSearchParams({ range: range(), limit: '50', offset: String(decisionState.offset) });
    for (const [k, v] of Object.entries(decisionState.filters)) if (v) q.set(k, v);
    return q.toString();
  };
  run(
    'Decisions',
    'Every request’s routing decision. Records hold ids, levels, counts and timings: never prompt or answer text.',
    async () => {
      const [options, list, detail] = await Promise.all([decisionOptions(), api(`/admin/records?${qs()}`), selected ? api(`/admin/records/${encodeURIComponent(selected)}`).catch((e) => ({ error: e })) : null]);
      return { options, list, detail };
    },
    ({ options, list, detail }) => {
      const select = (name, label, values) =>
        h('label', {}, label, h('select', { name }, h('option', { value: '' }, 'any'), values.map((v) => h('option', { value: v, selected: decisionState.filters[name] === v }, v))));
      const text = (name, label) => h('label', {}, label, h('input', { name, value: decisionState.filters[name] ?? '', size: 12 }));
      const form = h(
        'form',
        {
          class: 'filters',
          'data-testid': 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            const data = new FormData(e.target);
            decisionState.filters = Object.fromEntries([...data.entries()].filter(([, v]) => v !== ''));
            decisionState.offset = 0;
            location.hash === '#/decisions' ? route() : (location.hash = '#/decisions');
          },
        },
        select('tier', 'Tier', TIERS),
        select('level', 'Level', options.levels),
        select('rule', 'Rule', options.rules),
        text('team', 'Team'),
        text('workload', 'Workload'),
        select('status', 'Status', ['ok', 'rejected', 'failed', 'aborted']),
        h('button', { type: 'submit', class: 'primary' }, 'Apply'),
        h('button', { type: 'button', onclick: () => { decisionState.filters = {}; decisionState.offset = 0; route(); } }, 'Clear'),
      );
      const open = (id) => {
        location.hash = `#/decisions/${encodeURIComponent(id)}`;
      };
      const rows = list.data.map((r) =>
        h(
          'tr',
          { class: `clickable${r.requestId === selected ? ' selected' : ''}`, 'data-request-id': r.requestId, onclick: (e) => { if (e.target.tagName !== 'BUTTON') open(r.requestId); } },
          td(h('button', { type: 'button', class: 'link', 'aria-label': `Explain decision ${r.requestId}`, onclick: () => open(r.requestId) }, r.requestId.slice(0, 18))),
          td(time(r.time)),
          td(r.tier ? tag(r.tier) : '–'),
          td(r.level ?? '–'),
          td(r.rules.length === 0 ? '–' : r.rules.join(', ')),
          td(r.team ?? '–'),
          td(r.workload ?? '–'),
          td(tag(r.status)),
          td(ms(r.latencyMs), true),
        ),
      );
      const pager = h(
        'div',
        { class: 'pager' },
        h('button', { type: 'button', disabled: list.offset === 0, onclick: () => { decisionState.offset = Math.max(0, list.offset - list.limit); route(); } }, 'Newer'),
        h('button', { type: 'button', disabled: list.offset + list.limit >= list.total, onclick: () => { decisionState.offset = list.offset + list.limit; route(); } }, 'Older'),
        h('span', { 'data-testid': 'decisions-total' }, list.total === 0 ? 'no records' : `${list.offset + 1}–${list.offset + list.data.length} of ${num(list.total)}`),
      );
      const tableCard = card(
        null,
        form,
        list.total === 0
          ? empty('No decisions match these filters in this period.')
          : table(['Request', 'Time', 'Tier', 'Level', 'Rules', 'Team', 'Workload', 'Status', { label: 'Latency', num: true }], rows, { testid: 'decisions-table' }),
        pager,
      );
      const side = detail === null ? card('Explanation', h('p', { class: 'legend-note' }, 'Choose a request to see why it went where it did.')) : renderExplanation(detail);
      return h('div', { class: 'split' }, tableCard, side);
    },
  );
}

function renderExplanation(d) {
  if (d.error) return card('Explanation', h('div', { class: 'state error', role: 'alert' }, d.error.message));
  const derivedNote = {
    reproduced: 'Exclusion reasons re-derived from this record under the same policy version.',
    'policy-changed': 'The policy has changed since this decision; exclusion reasons are not re-derived.',
    'not-reproducible': 'This decision depended on caller attributes the record does not keep; exclusion reasons are not re-derived.',
    'not-classified': 'The request was refused before classification.',
  }[d.derived];
  const heading = h('h2', { tabindex: '-1', id: 'explanation-heading' }, 'Explanation');
  // Tiers the policy excluded, then backends that were tried and failed.
  const rejected = [
    ...d.excluded.map((e) => h('tr', {}, td(tag(e.tier)), td(e.by ? `excluded by ${e.by}` : 'not eligible under the policy'))),
    ...d.attempts.filter((a) => a.outcome !== 'ok').map((a) => h('tr', {}, td([tag(a.tier), ` ${a.backend}`]), td(`attempt ${a.attemptNo}: ${a.outcome}${a.errorCode ? ` (${a.errorCode})` : ''}`))),
  ];
  const section = h(
    'section',
    { class: 'card', 'data-testid': 'explanation', 'aria-labelledby': 'explanation-heading' },
    heading,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Request'), h('dd', {}, h('code', {}, d.requestId)),
      h('dt', {}, 'Time'), h('dd', {}, time(d.time)),
      h('dt', {}, 'Status'), h('dd', {}, tag(d.status), d.errorCode ? ` ${d.errorCode}` : '', ` (HTTP ${d.httpStatus})`),
      h('dt', {}, 'Level'), h('dd', { 'data-testid': 'explanation-level' }, d.level ?? '–'),
      h('dt', {}, 'Findings'), h('dd', {}, Object.keys(d.findings).length === 0 ? 'none' : Object.entries(d.findings).map(([k, n]) => tag(`${k} × ${n}`, ''))),
      h('dt', {}, 'Capability'), h('dd', {}, d.capability ?? '–'),
      h('dt', {}, 'Caller'), h('dd', {}, `${d.principal.id}${d.principal.team ? ` (team ${d.principal.team})` : ''}${d.workload ? `, workload ${d.workload}` : ''}`),
      h('dt', {}, 'Model'), h('dd', {}, `${d.requestedModel ?? '–'}${d.model && d.model !== d.requestedModel ? ` → ${d.model}` : ''}`),
      h('dt', {}, 'Served by'), h('dd', {}, d.tier ? [tag(d.tier), ` ${d.backend} (${d.region})`] : 'nothing'),
      h('dt', {}, 'Policy'), h('dd', {}, h('code', {}, d.policy.version ?? '–')),
      h('dt', {}, 'Matched rules'), h('dd', {}, d.policy.matchedRules.length === 0 ? 'none' : d.policy.matchedRules.join(', ')),
      h('dt', {}, 'Injection guard'), h('dd', { 'data-testid': 'explanation-injection' }, d.injection ? [tag(d.injection.verdict, 'bad'), ` score ${d.injection.score}, action ${d.injection.action}; rules: ${d.injection.signals.join(', ') || 'none'}`] : 'clean, or not run'),
      h('dt', {}, 'Pseudonymised'), h('dd', {}, d.effects.pseudonymized ? `yes (for ${d.effects.pseudonymizeFor.join(', ')})` : 'no'),
      h('dt', {}, 'Tokens'), h('dd', {}, `${num(d.tokens.input)} in, ${num(d.tokens.output)} out${d.tokens.estimated ? ' (estimated)' : ''}`),
      h('dt', {}, 'Cost'), h('dd', {}, `${usd(d.costDetail.amount)} (${d.costDetail.basis})`),
      h('dt', {}, 'Latency'), h('dd', {}, `${ms(d.latency.totalMs)} total${d.latency.overheadMs === null ? '' : `, ${ms(d.latency.overheadMs)} in the gateway`}`),
    ),
    h('h2', {}, 'Eligible tiers'),
    h('p', { 'data-testid': 'eligible-tiers' }, d.policy.eligibleTiers.length === 0 ? 'none' : d.policy.eligibleTiers.map((t) => tag(t))),
    h('h2', {}, 'Rejected candidates'),
    table(['Candidate', 'Reason'], rejected.length === 0 ? [h('tr', {}, td('none'), td('every tier was eligible and the first attempt answered'))] : rejected, { testid: 'rejected-candidates' }),
    h('p', { class: 'legend-note' }, derivedNote),
    d.reasons.length === 0 ? null : [h('h2', {}, 'Policy reasoning'), h('ul', { class: 'reasons' }, d.reasons.map((r) => h('li', {}, r)))],
    h('h2', {}, 'Attempts'),
    d.attempts.length === 0
      ? h('p', {}, 'No backend was called.')
      : table(
          ['#', 'Backend', 'Tier', 'Model', 'Outcome', { label: 'Latency', num: true }],
          d.attempts.map((a) => h('tr', {}, td(a.attemptNo), td(a.backend), td(tag(a.tier)), td(a.model), td([tag(a.outcome, a.outcome === 'ok' ? 'ok' : 'bad'), a.errorCode ? ` ${a.errorCode}` : '']), td(ms(a.latencyMs), true))),
          { testid: 'attempts' },
        ),
  );
  // Move focus to the explanation once it is in the page, so keyboard users land on it.
  queueMicrotask(() => heading.focus());
  return section;
}

function renderCost() {
  run('Cost', 'What was spent, per tier and team, against sending everything to the public API.', () => api(`/admin/stats/cost?range=${range()}`), (d) => {
    const saving = d.saving >= 0;
    const kpis = h(
      'div',
      { class: 'kpis' },
      kpi('Actual', usd(d.actualTotal), 'cloud list prices + on-prem hardware and operations for the period', 'cost-actual'),
      kpi(`If everything had gone to ${d.referenceLabel}`, usd(d.referenceTotal), 'the same tokens at the reference price', 'cost-reference'),
      kpi(saving ? 'Saving' : 'Cost of compliance', usd(Math.abs(d.saving)), saving ? 'reference − actual' : 'actual − reference', 'cost-saving'),
    );
    const tiers = card(
      'Per tier',
      table(
        ['Tier', { label: 'Requests', num: true }, { label: 'Tokens in', num: true }, { label: 'Tokens out', num: true }, { label: 'Actual', num: true }, { label: `If ${d.referenceLabel}`, num: true }],
        d.tiers.map((t) => h('tr', { 'data-tier': t.tier }, td(tag(t.tier)), td(num(t.requests), true), td(num(t.inputTokens), true), td(num(t.outputTokens), true), td(usd(t.actualCost), true), td(usd(t.referenceCost), true))),
        { testid: 'cost-tiers' },
      ),
    );
    const blended = card(
      'Blended on-prem rate (per 1M weighted tokens)',
      d.blended.length === 0
        ? empty('No on-prem backend is configured.')
        : table(
            ['Backend', { label: 'Configured', num: true }, { label: 'At utilisation', num: true }, { label: 'Measured', num: true }, { label: 'Measured utilisation', num: true }],
            d.blended.map((b) =>
              h('tr', {}, td(b.backend), td(b.configured ? usd(b.configured.per1MTokens) : 'no rate', true), td(b.configured ? pct(b.configured.expectedUtilisation) : '–', true), td(b.measured?.per1MTokens === null || !b.measured ? '–' : usd(b.measured.per1MTokens), true), td(b.measured ? pct(b.measured.utilisation) : '–', true)),
            ),
            { testid: 'cost-blended' },
          ),
      h('p', { class: 'legend-note' }, 'Configured: hardware amortisation + operations spread over the tokens processed at the expected utilisation. Measured: the period’s fixed cost over the tokens actually processed.'),
    );
    const teams = card(
      'Per team',
      d.teams.length === 0 ? empty('No served requests in this period.') : table(['Team', { label: 'Requests', num: true }, { label: 'Cost (recorded)', num: true }], d.teams.map((t) => h('tr', {}, td(t.team), td(num(t.requests), true), td(usd(t.cost), true))), { testid: 'cost-teams' }),
    );
    const served = d.tiers.reduce((s, t) => s + t.requests, 0);
    if (served === 0) return [kpis, empty('No served requests in this period yet.'), h('div', { class: 'grid' }, tiers, blended)];
    const x = d.series.buckets.map((b) => b / 1000);
    return [
      kpis,
      h(
        'div',
        { class: 'grid' },
        card('Cost per tier over time (recorded, USD)', lineChart({ x, series: d.series.tiers.map((s) => ({ label: s.name, values: s.values, color: tierColor(s.name) })), stacked: true, unit: '$', testid: 'chart-cost-tiers' })),
        card('Cost per team over time (recorded, USD)', lineChart({ x, series: d.series.teams.map((s) => ({ label: s.name, values: s.values })), unit: '$', testid: 'chart-cost-teams' })),
        tiers,
        teams,
        blended,
      ),
    ];
  });
}

function renderResidency() {
  run('Residency', 'Which tier served each level of data, counted from the verified audit trail.', () => api(`/admin/stats/residency?range=${range()}`), (d) => {
    let banner;
    if (d.chain === null) banner = h('div', { class: 'banner muted', 'data-testid': 'chain-status' }, 'Audit trail disabled: figures come from the record store, which is not hash-chained.');
    else if (d.chain.ok) banner = h('div', { class: 'banner ok', 'data-testid': 'chain-status' }, `Audit chain verified: ${num(d.chain.entries)} entries${d.chain.head ? `, head seq ${d.chain.head.seq} ${d.chain.head.hash.slice(0, 16)}…` : ''}`);
    else banner = h('div', { class: 'banner bad', role: 'alert', 'data-testid': 'chain-status' }, `Audit chain NOT verified: ${d.chain.message}. No residency figures are given from a broken chain.`);
    const matrix = (served, testid) =>
      table(
        ['Level', ...d.tiers],
        d.levels.map((level) =>
          h(
            'tr',
            { 'data-level': level },
            h('th', { scope: 'row' }, level),
            d.tiers.map((tier) => {
              const n = served?.[level]?.[tier] ?? 0;
              const critical = level === d.critical.level && tier === d.critical.tier;
              return td(num(n), false, { class: `cell${n === 0 ? ' zero' : ''}${critical ? ' critical' : ''}`, 'data-tier': tier, 'data-testid': critical ? `${testid}-critical` : null, 'aria-label': `${level} served by ${tier}: ${n}${critical ? ' (must be 0)' : ''}` });
            }),
          ),
        ),
        { testid },
      );
    const crit = d.critical.count;
    const critBanner =
      crit === null
        ? null
        : h('div', { class: `banner ${crit === 0 ? 'ok' : 'bad'}`, role: crit === 0 ? null : 'alert', 'data-testid': 'critical-banner' }, `${d.critical.level} → ${d.critical.tier}: ${num(crit)}${crit === 0 ? ' (as required)' : ' — regulated data reached the public API'}`);
    const notServed = Object.entries(d.notServed);
    return [
      banner,
      critBanner,
      h(
        'div',
        { class: 'grid' },
        card(`Served, level × tier (${d.source === 'audit' ? 'audit trail' : 'record store'})`, d.served === null ? empty('Not shown: the chain did not verify.') : h('div', { class: 'matrix' }, matrix(d.served, 'residency'))),
        card(
          'Not served (refused or failed), per level',
          notServed.length === 0 ? h('p', {}, 'none') : table(['Level', { label: 'Requests', num: true }], notServed.map(([l, n]) => h('tr', {}, td(l), td(num(n), true))), { testid: 'not-served' }),
        ),
        d.source === 'audit' ? card('Cross-check: record store', h('div', { class: 'matrix' }, matrix(d.storeServed, 'residency-store')), h('p', { class: 'legend-note' }, 'The same matrix from the record store (which has retention and no chain). Records still queued may make it lag by a moment.')) : null,
      ),
    ];
  });
}

function renderBackends() {
  run('Backends', 'Health and circuit breakers now; latency and errors over the period.', () => api(`/admin/stats/backends?range=${range()}`), (d) => [
    card(
      'Backends',
      table(
        ['Backend', 'Tier', 'Region', 'Breaker', { label: 'In flight', num: true }, { label: 'Attempts', num: true }, { label: 'Error rate', num: true }, { label: 'p50', num: true }, { label: 'p95', num: true }, { label: 'TTFB (EWMA)', num: true }],
        d.backends.map((b) =>
          h('tr', { 'data-backend': b.id }, td(b.id), td(tag(b.tier)), td(b.region), td([tag(b.breaker), b.breaker === 'open' ? ` retry in ${Math.ceil(b.retryInMs / 1000)} s` : '']), td(`${b.inFlight}/${b.limit ?? '∞'}`, true), td(num(b.attempts), true, { 'data-testid': `attempts-${b.id}` }), td(pct(b.errorRate), true), td(ms(b.p50Ms), true), td(ms(b.p95Ms), true), td(ms(b.latencyEwmaMs), true)),
        ),
        { testid: 'backends-table' },
      ),
      h('p', { class: 'legend-note' }, `Attempts, error rate and p50/p95 per backend from ${num(d.sampled)} records${d.complete ? '' : ' (the most recent ones)'}; per-attempt upstream latency.`),
    ),
    card(
      'Per tier (served requests)',
      table(
        ['Tier', { label: 'Requests', num: true }, { label: 'Error rate', num: true }, { label: 'p50', num: true }, { label: 'p95', num: true }],
        d.tiers.map((t) => h('tr', { 'data-tier': t.tier }, td(tag(t.tier)), td(num(t.requests), true), td(pct(t.errorRate), true), td(ms(t.p50Ms), true), td(ms(t.p95Ms), true))),
        { testid: 'backend-tiers' },
      ),
    ),
  ]);
}

function describeCell(tiers) {
  return tiers === 'deny' ? tag('deny', 'bad') : tiers.map((t) => tag(t));
}

function describeCondition(c) {
  if (!c) return '–';
  const parts = Object.entries(c).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : v}`);
  return parts.length === 0 ? 'always' : parts.join('; ');
}

function renderPolicy() {
  run('Policy', 'The sensitivity × capability matrix and rules as configured, and how often each rule matched.', () => api(`/admin/stats/policy?range=${range()}`), (d) => [
    h('div', { class: 'kpis' }, kpi('Policy version', h('code', {}, d.version), 'changes whenever the policy does', 'policy-version'), kpi('Rules', num(d.rules.length), `${num(d.workloads.length)} workloads`)),
    card(
      'Matrix: level × capability → tiers, in order of preference',
      h('div', { class: 'matrix' }, table(['Level', ...d.capabilities], d.matrix.map((row) => h('tr', { 'data-level': row.level }, h('th', { scope: 'row' }, row.level), row.cells.map((c) => td(describeCell(c.tiers), false, { 'data-capability': c.capability, title: `from ${c.source}` })))), { testid: 'policy-matrix' })),
      h('p', { class: 'legend-note' }, ['Pairs the matrix does not cover get the default: ', describeCell(d.default)]),
    ),
    card(
      'Rules',
      d.rules.length === 0
        ? empty('No rules: the matrix alone decides.')
        : table(
            ['Rule', 'When', 'Unless', 'Effects', { label: 'Hits', num: true }],
            d.rules.map((r) => h('tr', { 'data-rule': r.id }, td(h('code', {}, r.id)), td(describeCondition(r.when)), td(describeCondition(r.unless)), td(describeCondition(r.effects)), td(r.hits === null ? '–' : num(r.hits), true, { 'data-testid': `hits-${r.id}` }))),
            { testid: 'policy-rules' },
          ),
      h('p', { class: 'legend-note' }, 'Hits: decision records in the period whose matched rules include the rule.'),
    ),
    d.workloads.length === 0
      ? null
      : card('Workloads', table(['Workload', 'Capability', 'Own matrix', 'Description'], d.workloads.map((w) => h('tr', {}, td(w.name), td(w.capability ?? '–'), td(w.overridesMatrix ? 'yes' : 'no'), td(w.description ?? ''))))),
  ]);
}

route();
