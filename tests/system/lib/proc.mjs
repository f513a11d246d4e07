/*
 * proc.mjs - child processes of the system tests, and /proc look-ups
 *
 * Every process a test starts goes through spawnTracked(): it is recorded,
 * unref'd (a forgotten stack never keeps the test file running) and, when
 * the test file's process ends for any reason (normal exit, an uncaught
 * error, SIGINT/SIGTERM from the test runner), sent SIGTERM, so no tallyd,
 * nginx or mariadbd outlives its test file.  tallyd's workers
 * die with their master (PR_SET_PDEATHSIG), nginx's with theirs.
 *
 * The /proc helpers find a process's children and which unix listening
 * socket it holds: tallyd's workers do not rename themselves, so a
 * worker's pool is the pool whose listening socket it has open.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const tracked = new Set();

function killAll(signal) {
  for (const child of tracked) {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, signal); } catch { /* gone */ }
    }
  }
}

process.on('exit', () => killAll('SIGTERM'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll('SIGTERM'); process.exit(130); });
}

/*
 * spawnTracked - spawn 'cmd' with 'args'; stdout/stderr to the files
 * 'out'/'err' (appended) or ignored.  Returns the ChildProcess, with
 * .exited, a promise of {code, signal}.
 */
export function spawnTracked(cmd, args, { out, err, env, cwd } = {}) {
  const o = out ? fs.openSync(out, 'a') : 'ignore';
  const e = err ? fs.openSync(err, 'a') : 'ignore';
  const child = spawn(cmd, args, { stdio: ['ignore', o, e], env: env ?? process.env, cwd });
  if (typeof o === 'number') fs.closeSync(o);
  if (typeof e === 'number') fs.closeSync(e);
  tracked.add(child);
  /* never keep the test file alive: its end (the 'exit' hook) stops it */
  child.unref();
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      tracked.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      tracked.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  return child;
}

/*
 * run - run a command to completion: {code, stdout, stderr}.  'input' is
 * written to its standard input.  Bounded by 'timeoutMs' (then SIGKILL).
 */
export function run(cmd, args, { input, env, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    tracked.add(child);
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => { clearTimeout(timer); tracked.delete(child); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      tracked.delete(child);
      resolve({
        code: code ?? (signal ? 128 : -1),
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => { /* the command may not read it */ });
    child.stdin.end(input ?? '');
  });
}

/* alive - the process exists and is not a zombie */
export function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return statState(stat) !== 'Z';
  } catch {
    return false;
  }
}

function statState(stat) {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

function statPpid(stat) {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/* childrenOf - pids of the live (non-zombie) children of 'pid' */
export function childrenOf(pid) {
  const kids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    if (statPpid(stat) === pid && statState(stat) !== 'Z') kids.push(Number(name));
  }
  return kids.sort((a, b) => a - b);
}

/*
 * listeningInodes - inode of the listening unix socket bound to each
 * path of 'paths' (/proc/net/unix; flag 0x10000 is __SO_ACCEPTCON).
 * Accepted connections show the same path but not that flag.
 */
export function listeningInodes(paths) {
  const want = new Set(paths);
  const found = new Map();
  const lines = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !want.has(f[7])) continue;
    if ((parseInt(f[3], 16) & 0x10000) === 0) continue;
    found.set(Number(f[6]), f[7]);
  }
  return found;
}

/* socketInodes - inodes of the sockets process 'pid' has open */
export function socketInodes(pid) {
  const inodes = new Set();
  let fds;
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return inodes; }
  for (const fd of fds) {
    let link;
    try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(Number(m[1]));
  }
  return inodes;
}

/*
 * poolOfChildren - for each child of 'masterPid', the socket path of the
 * one listening socket (among 'paths') it holds.  A child holding none
 * (a job process) or several (just forked, not yet set up) is left out.
 */
export function poolOfChildren(masterPid, paths) {
  const listeners = listeningInodes(paths);
  const result = new Map();
  for (const pid of childrenOf(masterPid)) {
    const held = new Set();
    for (const ino of socketInodes(pid)) {
      if (listeners.has(ino)) held.add(listeners.get(ino));
    }
    if (held.size === 1) result.set(pid, [...held][0]);
  }
  return result;
}

/* sleep - for tests that must let time pass (rate refill, backoff) */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* fatal - an error that makes waitFor() give up at once */
export function fatal(message) {
  const e = new Error(message);
  e.fatal = true;
  return e;
}

/*
 * waitFor - poll 'fn' (sync or async) every 'interval' ms until it returns
 * a truthy value, which is returned; throws after 'timeoutMs' with 'what'.
 * An error thrown by 'fn' counts as "not yet", unless made by fatal().
 */
export async function waitFor(fn, { timeoutMs = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (last ? ` (last error: ${last.message})` : ''));
    }
    await sleep(interval);
  }
}
