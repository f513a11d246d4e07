/*
 * lists.mjs - list pagination, range filters, expansion and search.
 *
 * Owns:
 *   paginate()  {object:'list', data, has_more, url} over newest-first
 *               records with limit (1..100, default 10), starting_after,
 *               ending_before - Stripe's cursor semantics;
 *   createdFilter() created=N or created[gt|gte|lt|lte]=N;
 *   render()    a deep copy of an object with `expand[]` paths applied:
 *               any field holding an id of a known kind can be expanded, a
 *               path may go through expanded objects (latest_charge.
 *               balance_transaction) and through lists (data.x); `refunds` on
 *               a charge expands to the list of its refunds;
 *   searchQuery() the search language subset Tally needs:
 *               metadata['k']:'v' [AND field:'v' ...] with status/currency/
 *               customer/amount fields.
 *
 * Invariant: render() never mutates stored objects; an unknown expand path is
 * a 400 "This property cannot be expanded (x)." as on Stripe; at most 4 levels.
 */

import { invalid } from './errors.mjs';
import { kindOfId } from './state.mjs';

export function paginate(recs, params, url) {
  let limit = 10;
  if (params.limit !== undefined) {
    if (!/^\d+$/.test(String(params.limit)) || Number(params.limit) < 1 || Number(params.limit) > 100) {
      throw invalid('Invalid integer: limit must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    }
    limit = Number(params.limit);
  }
  const objs = recs.map((r) => r.obj);
  let start = 0;
  let end;
  if (params.starting_after !== undefined && params.starting_after !== '') {
    const i = objs.findIndex((o) => o.id === params.starting_after);
    if (i < 0) throw invalid(`No such object: '${params.starting_after}'`, 'starting_after', 'resource_missing');
    start = i + 1;
    end = start + limit;
  } else if (params.ending_before !== undefined && params.ending_before !== '') {
    const i = objs.findIndex((o) => o.id === params.ending_before);
    if (i < 0) throw invalid(`No such object: '${params.ending_before}'`, 'ending_before', 'resource_missing');
    end = i;
    start = Math.max(0, i - limit);
    return { object: 'list', data: objs.slice(start, end), has_more: start > 0, url };
  } else {
    end = limit;
  }
  return { object: 'list', data: objs.slice(start, end), has_more: end < objs.length, url };
}

function rangeMatch(value, spec, name) {
  if (spec === undefined) return true;
  if (typeof spec === 'string') {
    if (!/^\d+$/.test(spec)) throw invalid(`Invalid integer: ${spec}`, name, 'parameter_invalid_integer');
    return value === Number(spec);
  }
  if (typeof spec !== 'object' || Array.isArray(spec)) throw invalid('Invalid hash', name);
  for (const [op, raw] of Object.entries(spec)) {
    if (!/^\d+$/.test(String(raw))) throw invalid(`Invalid integer: ${raw}`, `${name}[${op}]`, 'parameter_invalid_integer');
    const n = Number(raw);
    if (op === 'gt' && !(value > n)) return false;
    if (op === 'gte' && !(value >= n)) return false;
    if (op === 'lt' && !(value < n)) return false;
    if (op === 'lte' && !(value <= n)) return false;
    if (!['gt', 'gte', 'lt', 'lte'].includes(op)) throw invalid(`Received unknown parameter: ${name}[${op}]`, `${name}[${op}]`, 'parameter_unknown');
  }
  return true;
}

export function createdFilter(params, name = 'created') {
  const spec = params[name];
  return (rec) => rangeMatch(rec.obj[name], spec, name);
}

/* ---- expansion ------------------------------------------------------------------ */

function lookup(emu, id) {
  const kind = kindOfId(id);
  if (!kind) return null;
  const rec = emu.state.get(kind, id);
  return rec ? JSON.parse(JSON.stringify(rec.obj)) : null;
}

function expandPath(emu, node, segs, full, depth) {
  if (node === null || node === undefined || !segs.length) return node;
  if (depth > 4) throw invalid(`You cannot expand more than 4 levels of a property. Property: ${full}`, 'expand');
  if (node.object === 'list' && Array.isArray(node.data) && segs[0] === 'data') {
    node.data = node.data.map((item) => expandPath(emu, item, segs.slice(1), full, depth));
    return node;
  }
  const [seg, ...rest] = segs;
  if (typeof node !== 'object' || !(seg in node)) {
    if (node.object === 'charge' && seg === 'refunds') {
      const list = emu.state
        .list('refunds')
        .filter((r) => r.obj.charge === node.id)
        .map((r) => JSON.parse(JSON.stringify(r.obj)));
      node.refunds = { object: 'list', data: list, has_more: false, url: `/v1/charges/${node.id}/refunds` };
      node.refunds = expandPath(emu, node.refunds, rest, full, depth + 1);
      return node;
    }
    throw invalid(`This property cannot be expanded (${seg}).`, 'expand');
  }
  let value = node[seg];
  if (typeof value === 'string') {
    const obj = lookup(emu, value);
    if (!obj) throw invalid(`This property cannot be expanded (${seg}).`, 'expand');
    value = obj;
  } else if (value !== null && typeof value !== 'object') {
    throw invalid(`This property cannot be expanded (${seg}).`, 'expand');
  }
  node[seg] = expandPath(emu, value, rest, full, depth + 1);
  return node;
}

export function render(emu, obj, expand = []) {
  const out = JSON.parse(JSON.stringify(obj));
  for (const path of expand) {
    expandPath(emu, out, path.split('.'), path, 1);
  }
  return out;
}

/* ---- search ------------------------------------------------------------------------ */

const CLAUSE = /^\s*(metadata\[(['"])(.+?)\2\]|[a-z_]+)\s*(:|>=|<=|>|<)\s*(?:(['"])(.*?)\5|([^\s'"]+))\s*$/;

export function searchQuery(query) {
  if (typeof query !== 'string' || !query.trim()) {
    throw invalid('Missing required param: query.', 'query', 'parameter_missing');
  }
  if (/\sOR\s/i.test(query)) {
    throw invalid('The emulator supports AND-joined clauses only (no OR).', 'query');
  }
  const clauses = query.split(/\s+AND\s+/i).map((c) => {
    const m = CLAUSE.exec(c);
    if (!m) throw invalid(`Invalid query: could not parse '${c.trim()}'. Example: metadata['key']:'value'`, 'query');
    const value = m[6] !== undefined ? m[6] : m[7];
    if (m[3] !== undefined) return { metadata: m[3], op: m[4], value };
    if (!['status', 'currency', 'customer', 'amount', 'created'].includes(m[1])) {
      throw invalid(`Field '${m[1]}' is not searchable in the emulator.`, 'query');
    }
    return { field: m[1], op: m[4], value };
  });
  return (obj) =>
    clauses.every((c) => {
      if (c.metadata !== undefined) return c.op === ':' && obj.metadata && obj.metadata[c.metadata] === c.value;
      const v = obj[c.field];
      if (c.op === ':') return String(v) === c.value;
      const n = Number(c.value);
      if (c.op === '>') return v > n;
      if (c.op === '<') return v < n;
      if (c.op === '>=') return v >= n;
      if (c.op === '<=') return v <= n;
      return false;
    });
}
