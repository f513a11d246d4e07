/*
 * chart.js - line and bar charts drawn as SVG in the page (no library)
 *
 * chart({kind, title, labels, series, format}) returns a <figure>: an
 * SVG with its axes, tick labels on both axes, one polyline (kind
 * 'line') or one group of bars (kind 'bar') per series, a legend, and
 * the same numbers as a table for screen readers and for copying.
 * Colours come from the stylesheet (classes s0, s1, …): no inline style,
 * so the panel's Content-Security-Policy needs no 'unsafe-inline'.
 */
import { el } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 1000;
const H = 300;
const PAD = { left: 84, right: 16, top: 16, bottom: 44 };

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/* niceStep - a 1, 2 or 5 × 10^k step giving about 'n' ticks over 'span' */
function niceStep(span, n) {
  const raw = Math.max(span / n, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

let uid = 0;

/*
 * chart - 'labels' along x (dates), 'series' [{name, values}], 'format'
 * the y tick and table formatter (integers in, text out)
 */
export function chart({ kind = 'line', title, labels, series, format = String }) {
  const id = `chart-${++uid}`;
  const all = series.flatMap((s) => s.values);
  const lo = Math.min(0, ...all);
  const hiRaw = Math.max(0, ...all);
  const empty = all.every((v) => v === 0);
  const step = niceStep(hiRaw - lo || 400, 4);
  const min = Math.floor(lo / step) * step;
  const max = Math.max(Math.ceil(hiRaw / step) * step, min + step);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const n = labels.length;
  const x = (i) => PAD.left + (n <= 1 ? iw / 2 : (kind === 'bar' ? (i + 0.5) * (iw / n) : i * (iw / (n - 1))));
  const y = (v) => PAD.top + ih - ((v - min) / (max - min)) * ih;

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: `chart chart-${kind}`, role: 'img', 'aria-labelledby': `${id}-t`,
    preserveAspectRatio: 'xMidYMid meet',
  });
  root.append(svg('title', { id: `${id}-t` }, title));

  /* the y axis: grid lines and tick labels */
  const yAxis = svg('g', { class: 'axis axis-y' });
  for (let v = min; v <= max + step / 2; v += step) {
    yAxis.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: v === 0 ? 'zero' : 'grid' }));
    yAxis.append(svg('text', { x: PAD.left - 8, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, format(v)));
  }
  root.append(yAxis);

  /* the x axis: at most about 8 date labels */
  const xAxis = svg('g', { class: 'axis axis-x' });
  const every = Math.max(1, Math.ceil(n / 8));
  labels.forEach((l, i) => {
    /* every 'every'-th day, and the last one unless it would touch the one before */
    if (i === n - 1 ? i % every !== 0 && i % every < every / 2 : i % every !== 0) return;
    xAxis.append(svg('text', { x: x(i), y: H - PAD.bottom + 18, 'text-anchor': 'middle', class: 'tick' },
      String(l).slice(5)));
  });
  xAxis.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: PAD.top + ih, y2: PAD.top + ih, class: 'base' }));
  root.append(xAxis);

  /* the data */
  const data = svg('g', { class: 'data' });
  series.forEach((s, k) => {
    const g = svg('g', { class: `series s${k}`, 'data-series': s.name });
    if (kind === 'bar') {
      const slot = iw / Math.max(n, 1);
      const bw = Math.max(1, (slot * 0.8) / series.length);
      s.values.forEach((v, i) => {
        const top = y(Math.max(v, 0));
        const h = Math.abs(y(v) - y(0));
        const bar = svg('rect', { x: x(i) - (slot * 0.4) + k * bw, y: top, width: bw, height: Math.max(h, v ? 1 : 0) });
        bar.append(svg('title', {}, `${labels[i]} ${s.name}: ${format(v)}`));
        g.append(bar);
      });
    } else {
      const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      g.append(svg('polyline', { points: pts, fill: 'none' }));
      s.values.forEach((v, i) => {
        const dot = svg('circle', { cx: x(i), cy: y(v), r: 3 });
        dot.append(svg('title', {}, `${labels[i]} ${s.name}: ${format(v)}`));
        g.append(dot);
      });
    }
    data.append(g);
  });
  root.append(data);
  if (empty) {
    root.append(svg('text', { x: PAD.left + iw / 2, y: PAD.top + ih / 2, 'text-anchor': 'middle', class: 'empty-note' },
      'Nothing in this period'));
  }

  const legend = el('ul', { class: 'legend' }, series.map((s, k) => el('li', {},
    el('span', { class: `swatch s${k}`, 'aria-hidden': 'true' }), s.name)));
  const details = el('details', { class: 'chart-table' }, el('summary', { text: 'Show the numbers' }),
    el('div', { class: 'table-wrap' }, el('table', {},
      el('caption', { class: 'sr-only', text: title }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Day' }),
        series.map((s) => el('th', { scope: 'col', class: 'num', text: s.name })))),
      el('tbody', {}, labels.map((l, i) => el('tr', {}, el('th', { scope: 'row', text: l }),
        series.map((s) => el('td', { class: 'num', text: format(s.values[i]) }))))))));
  return el('figure', { class: 'chart-figure' }, el('figcaption', { text: title }), root, legend, details);
}
