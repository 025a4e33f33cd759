// Time-series charts on uPlot (served by the gateway from node_modules at /ui/assets/uplot.js).
// Each chart also carries a text summary, so the numbers are there without the canvas.

const PALETTE = ['#1f6fd1', '#e07b00', '#2e8b57', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#d35400'];
let uplot = null;

async function loadUPlot() {
  // Imported lazily: a page whose data fails to load never needs it.
  uplot ??= import('./uplot.js').then((m) => m.default);
  return uplot;
}

/** Canvas cannot use CSS variables, so `var(--x)` is resolved against the document. */
function resolveColor(color, i) {
  if (!color) return PALETTE[i % PALETTE.length];
  const m = /^var\((--[a-z-]+)\)$/.exec(color);
  if (m === null) return color;
  return getComputedStyle(document.documentElement).getPropertyValue(m[1]).trim() || PALETTE[i % PALETTE.length];
}

function format(v, unit) {
  if (v === null || v === undefined) return '–';
  if (unit === '$') return `$${v < 1 && v > 0 ? v.toFixed(4) : v.toFixed(2)}`;
  if (unit === '%') return `${v.toFixed(1)}%`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/**
 * lineChart({ x: seconds[], series: [{ label, values, color }], stacked, unit, testid })
 * Stacked charts draw cumulative sums, largest first, so each band shows one series;
 * the legend still shows each series' own value.
 */
export function lineChart({ x, series, stacked = false, unit = '', testid }) {
  const totals = series.map((s) => s.values.reduce((a, b) => a + b, 0));
  const summary = series.map((s, i) => `${s.label}: ${format(totals[i], unit)}`).join('; ');
  const box = document.createElement('div');
  box.className = 'chart';
  box.setAttribute('role', 'img');
  box.setAttribute('aria-label', `Chart, totals for the period: ${summary}`);
  if (testid) box.dataset.testid = testid;
  const note = document.createElement('p');
  note.className = 'legend-note';
  note.textContent = `Totals: ${summary}`;
  const wrap = document.createElement('div');
  wrap.append(box, note);
  if (series.length === 0) {
    box.textContent = 'No data.';
    return wrap;
  }

  let data;
  let order = series.map((_, i) => i);
  if (stacked) {
    const cumulative = [];
    let running = x.map(() => 0);
    for (const s of series) {
      running = running.map((v, j) => v + (s.values[j] ?? 0));
      cumulative.push(running);
    }
    order = order.reverse();
    data = [x, ...order.map((i) => cumulative[i])];
  } else data = [x, ...series.map((s) => s.values)];

  const draw = async () => {
    let UPlot;
    try {
      UPlot = await loadUPlot();
    } catch {
      box.textContent = 'Chart unavailable (uPlot could not be loaded); totals below.';
      return;
    }
    const width = Math.max(280, box.clientWidth || 480);
    const opts = {
      width,
      height: 240,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { values: (_u, vals) => vals.map((v) => format(v, unit)), size: 64 }],
      series: [
        {},
        ...order.map((i) => {
          const color = resolveColor(series[i].color, i);
          return {
            label: series[i].label,
            stroke: color,
            width: 1.5,
            fill: stacked ? `${color}55` : undefined,
            points: { show: false },
            // The legend shows this series' own value, not the stacked sum.
            value: (_u, _v, _si, idx) => (idx === null || idx === undefined ? '–' : format(series[i].values[idx], unit)),
          };
        }),
      ],
    };
    const chart = new UPlot(opts, data, box);
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, box.clientWidth);
      if (Math.abs(w - chart.width) > 4) chart.setSize({ width: w, height: 240 });
    });
    ro.observe(box);
  };
  // Drawn once the element is in the document and has a width.
  requestAnimationFrame(() => void draw());
  return wrap;
}
