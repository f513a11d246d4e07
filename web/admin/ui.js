/*
 * ui.js - small DOM helpers: elements built with textContent only (no
 * markup is ever parsed from data), money from integer minor units,
 * dates, tables, the error box and buttons that cannot be clicked twice.
 */

/* el - element 'tag' with attributes/properties 'a' and children */
export function el(tag, a = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else n.setAttribute(k, v === true ? '' : v);
  }
  append(n, kids);
  return n;
}

function append(n, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

/* clear - empty 'n' and put 'kids' in it */
export function put(n, ...kids) {
  n.replaceChildren();
  append(n, kids);
  return n;
}

/* decimals of a currency at Stripe (zero-decimal and three-decimal ones) */
const ZERO = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv',
  'xaf', 'xof', 'xpf']);
const THREE = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);
export function exponent(cur) {
  const c = String(cur || '').toLowerCase();
  if (ZERO.has(c)) return 0;
  return THREE.has(c) ? 3 : 2;
}

/* decimal - integer minor units as an exact decimal string ("-12.05") */
export function decimal(cent, cur) {
  const e = exponent(cur);
  const v = BigInt(cent ?? 0);
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(e + 1, '0');
  const whole = s.slice(0, s.length - e) || '0';
  return `${neg ? '-' : ''}${whole}${e ? `.${s.slice(s.length - e)}` : ''}`;
}

/* money - "$12.05" / "€1,234.00": formatted from the exact decimal string */
export function money(cent, cur) {
  if (cent === null || cent === undefined) return '—';
  const e = exponent(cur);
  try {
    return new Intl.NumberFormat(undefined, {
      style: 'currency', currency: String(cur).toUpperCase(), minimumFractionDigits: e, maximumFractionDigits: e,
    }).format(decimal(cent, cur));
  } catch {
    return `${decimal(cent, cur)} ${String(cur).toUpperCase()}`;
  }
}

/*
 * parseMoney - "12.3" (major units, as typed) into integer minor units of
 * 'cur', exactly; null when it is not an amount with at most the
 * currency's decimals
 */
export function parseMoney(text, cur) {
  const e = exponent(cur);
  const m = /^\s*(\d{1,15})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > e) return null;
  return Number(BigInt(m[1]) * 10n ** BigInt(e) + BigInt((frac + '0'.repeat(e)).slice(0, e) || '0'));
}

/* when - unix seconds as a local date and time */
export function when(s) {
  if (!s) return '—';
  return new Date(s * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/* day - a Date as YYYY-MM-DD (UTC) */
export function day(d) {
  return d.toISOString().slice(0, 10);
}

/*
 * table - a table of 'rows' with 'cols' [{label, cell(row) -> node|text,
 * num}] and a caption; 'empty' when there is no row
 */
export function table(caption, cols, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return el('p', { class: 'empty', text: empty });
  return el('div', { class: 'table-wrap' },
    el('table', {},
      el('caption', { class: 'sr-only', text: caption }),
      el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col', class: cellClass(c),
        text: c.label })))),
      el('tbody', {}, rows.map((r) => el('tr', {}, cols.map((c) => el('td', { class: cellClass(c) },
        c.cell(r))))))));
}

const cellClass = (c) => [c.num ? 'num' : '', c.nowrap ? 'nowrap' : ''].join(' ').trim() || null;

/* badge - a status word in a pill whose class says good, bad or neutral */
export function badge(status) {
  const bad = ['failed', 'dead', 'disputed', 'dispute_lost', 'refund_pending', 'unknown'];
  const good = ['succeeded', 'paid', 'processed', 'sent', 'transferred', 'enabled'];
  const tone = bad.includes(status) ? 'bad' : good.includes(status) ? 'good' : 'neutral';
  return el('span', { class: `badge ${tone}`, text: status ?? '—' });
}

/* errorBox - the API's message and request id, read out at once */
export function errorBox(err) {
  return el('div', { class: 'error', role: 'alert' },
    el('p', { class: 'error-message', text: err.message }),
    err.requestId ? el('p', { class: 'request-id' }, 'Request id: ', el('code', { text: err.requestId })) : null);
}

/*
 * action - a button that runs 'fn' once at a time: disabled with
 * 'busyText' while it runs, its error shown in 'out'
 */
export function action(label, fn, { busyText = 'Working…', out, cls = 'button' } = {}) {
  const b = el('button', { type: 'button', class: cls, text: label });
  b.addEventListener('click', async () => {
    if (b.disabled) return;
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
    b.textContent = busyText;
    if (out) out.replaceChildren();
    try {
      await fn();
    } catch (e) {
      if (out) out.replaceChildren(errorBox(e));
    } finally {
      b.disabled = false;
      b.removeAttribute('aria-busy');
      b.textContent = label;
    }
  });
  return b;
}

/* field - a labelled input; returns [wrapper, input] */
export function field(label, attrs = {}) {
  const { tag = 'input', options, value, ...rest } = attrs;
  const id = rest.id ?? `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const input = el(tag, { ...rest, id, name: rest.name ?? id });
  if (tag === 'select') for (const [v, t] of options ?? []) input.append(el('option', { value: v, text: t }));
  if (value !== undefined && value !== null) input.value = value;
  return [el('div', { class: 'field' }, el('label', { for: id, text: label }), input), input];
}
