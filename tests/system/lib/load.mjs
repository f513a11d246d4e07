/*
 * load.mjs - a small concurrent load generator for the fault tests
 *
 *   const load = startLoad({ concurrency: 8, durationMs: 3000,
 *       fn: () => req(stack, 'GET', '/api/v1/health/live') });
 *   ... kill a worker, reload ...
 *   const r = await load.done;   // or await load.stop()
 *   r.total, r.statuses ({200: n, 502: n}), r.errors ([message]),
 *   r.failures (every result that was not 'ok')
 *
 * N loops each call fn(i, loop) one request at a time until the duration,
 * the total count or stop() ends them; 'maxMs' bounds the whole run
 * whatever happens.  'perLoopRate' (requests per second) paces each loop:
 * nginx allows 100 r/s per client address, and a 2-core machine shared
 * by nginx, tallyd and the test is better measured under a steady load.  fn resolves to a response-like object ({status, ...}); a
 * result is ok when ok(res) says so (default: status 200); a thrown error
 * is recorded with its message.
 */

/* startLoad - see the top of the file; returns {done, stop, results} */
export function startLoad({
  concurrency = 8, durationMs, count, maxMs = 30000, fn, ok = (r) => r.status === 200,
  keep = 'failures', perLoopRate = 40,
} = {}) {
  if (!fn) throw new Error('startLoad needs fn');
  if (durationMs === undefined && count === undefined) throw new Error('startLoad needs durationMs or count');
  const t0 = Date.now();
  const until = t0 + Math.min(durationMs ?? maxMs, maxMs);
  const results = [];
  const statuses = {};
  const errors = [];
  const failures = [];
  let issued = 0;
  let stopped = false;

  const more = () => !stopped && Date.now() < until && (count === undefined || issued < count);

  const gap = perLoopRate ? 1000 / perLoopRate : 0;

  async function loop(worker) {
    let next = Date.now() + (gap * worker) / concurrency;
    while (more()) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      next += gap;
      if (!more()) break;
      const i = issued++;
      const started = Date.now();
      let entry;
      try {
        const res = await fn(i, worker);
        statuses[res.status] = (statuses[res.status] || 0) + 1;
        entry = { i, status: res.status, ok: ok(res), res, started, ended: Date.now() };
      } catch (e) {
        errors.push(e.cause?.code ?? e.cause?.message ?? e.message);
        entry = { i, error: e, ok: false, started, ended: Date.now() };
      }
      if (!entry.ok) failures.push(entry);
      if (keep === 'all') results.push(entry);
    }
  }

  const done = Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w))).then(() => ({
    total: issued,
    statuses,
    errors,
    failures,
    results,
    ms: Date.now() - t0,
  }));
  return {
    done,
    results,
    issued: () => issued,
    stop() {
      stopped = true;
      return done;
    },
  };
}

/* runLoad - startLoad() and wait for it */
export function runLoad(opts) {
  return startLoad(opts).done;
}
