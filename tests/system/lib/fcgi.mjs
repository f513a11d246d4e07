/*
 * fcgi.mjs - a minimal FastCGI client over a unix socket (node:net), to
 * talk to a tallyd pool without nginx
 *
 *   const res = await fcgiHttp(stack.socket('api'), 'GET', '/api/v1/health');
 *   res.status, res.headers (lower-case names), res.body (Buffer), res.text
 *
 * One request per connection: FCGI_BEGIN_REQUEST (role RESPONDER,
 * keep_conn 0), FCGI_PARAMS (name-value pairs, 1- or 4-byte lengths, in
 * records of at most 65535 bytes, then an empty record), FCGI_STDIN (the
 * body in records of at most 65535 bytes, then an empty record).  It
 * reads FCGI_STDOUT, FCGI_STDERR and FCGI_END_REQUEST.
 *
 * Made for abuse: CONTENT_LENGTH is whatever the caller says (a lie, or
 * absent), the body can be streamed from a size without being held in
 * memory, and a peer that answers and closes while the body is still
 * being written (EPIPE, ECONNRESET) is not an error: the result carries
 * what arrived, 'complete' (END_REQUEST seen) and 'socketError'.
 */
import net from 'node:net';

export const FCGI = {
  VERSION: 1,
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  RESPONDER: 1,
  MAX_CONTENT: 65535,
};

/* record - one FastCGI record of 'type' for request 'id' */
export function record(type, id, content = Buffer.alloc(0)) {
  if (content.length > FCGI.MAX_CONTENT) throw new Error('record content too long');
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.alloc(8);
  h.writeUInt8(FCGI.VERSION, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(id, 2);
  h.writeUInt16BE(content.length, 4);
  h.writeUInt8(pad, 6);
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

/* records - 'data' split into records of 'type', then the empty one */
function records(type, id, data) {
  const out = [];
  for (let off = 0; off < data.length; off += FCGI.MAX_CONTENT) {
    out.push(record(type, id, data.subarray(off, off + FCGI.MAX_CONTENT)));
  }
  out.push(record(type, id));
  return Buffer.concat(out);
}

function encodeLength(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0, 0);
  return b;
}

/* encodeParams - name-value pairs of FCGI_PARAMS */
export function encodeParams(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const kb = Buffer.from(k);
    const vb = Buffer.from(String(v));
    parts.push(encodeLength(kb.length), encodeLength(vb.length), kb, vb);
  }
  return Buffer.concat(parts);
}

function beginRequest(id) {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(FCGI.RESPONDER, 0);
  b.writeUInt8(0, 2); /* flags: keep_conn 0 */
  return record(FCGI.BEGIN_REQUEST, id, b);
}

/* parse the CGI response in STDOUT: Status and headers, then the body */
function parseStdout(buf) {
  const end = buf.indexOf('\r\n\r\n');
  const out = { status: null, headers: {}, body: buf };
  if (end < 0) return out;
  const head = buf.subarray(0, end).toString('latin1');
  out.body = buf.subarray(end + 4);
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name === 'status') out.status = parseInt(value, 10);
    else if (out.headers[name] !== undefined) out.headers[name] += `, ${value}`;
    else out.headers[name] = value;
  }
  if (out.status === null) out.status = 200;
  return out;
}

/* a parser of the records coming back */
function responseReader() {
  let pending = Buffer.alloc(0);
  const r = { stdout: [], stderr: [], end: null, badRecord: false };
  r.push = (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const type = pending.readUInt8(1);
      const len = pending.readUInt16BE(4);
      const pad = pending.readUInt8(6);
      if (pending.readUInt8(0) !== FCGI.VERSION) {
        r.badRecord = true;
        pending = Buffer.alloc(0);
        return;
      }
      if (pending.length < 8 + len + pad) return;
      const content = pending.subarray(8, 8 + len);
      if (type === FCGI.STDOUT) r.stdout.push(Buffer.from(content));
      else if (type === FCGI.STDERR) r.stderr.push(Buffer.from(content));
      else if (type === FCGI.END_REQUEST && len >= 5) {
        r.end = { appStatus: content.readUInt32BE(0), protocolStatus: content.readUInt8(4) };
      }
      pending = pending.subarray(8 + len + pad);
    }
  };
  return r;
}

/* writeAsync - write 'buf'; true once it is handed to the kernel, false
 * when the socket failed or closed first */
function writeAsync(sock, buf) {
  return new Promise((resolve) => {
    if (sock.destroyed || sock.writableEnded) return resolve(false);
    const onClose = () => resolve(false);
    sock.once('close', onClose);
    sock.write(buf, (err) => {
      sock.off('close', onClose);
      resolve(!err);
    });
  });
}

/*
 * fcgiRequest - one request on unix socket 'socketPath'.
 *   params     the FCGI_PARAMS, as {NAME: value}
 *   body       a Buffer or string sent as FCGI_STDIN, or
 *   bodySize   that many bytes ('x') streamed in 64 KiB records
 *   noStdin    true: send no FCGI_STDIN at all and keep the connection
 *              open (a body that never comes)
 *   timeoutMs  bound on the whole exchange (then the socket is destroyed)
 * Returns {status, headers, body, text, stderr, complete, appStatus,
 * socketError, bytesSent, timedOut}.
 */
export function fcgiRequest(socketPath, {
  params = {}, body, bodySize, noStdin = false, timeoutMs = 15000, id = 1,
} = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const reader = responseReader();
    let socketError = null;
    let timedOut = false;
    let bytesSent = 0;
    let settled = false;
    const timer = setTimeout(() => { timedOut = true; sock.destroy(); }, timeoutMs);

    sock.on('data', (d) => reader.push(d));
    sock.on('error', (e) => { socketError = socketError ?? e.code ?? e.message; });
    sock.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const out = parseStdout(Buffer.concat(reader.stdout));
      resolve({
        status: out.status,
        headers: out.headers,
        body: out.body,
        text: out.body.toString(),
        stderr: Buffer.concat(reader.stderr).toString(),
        complete: reader.end !== null,
        appStatus: reader.end?.appStatus ?? null,
        badRecord: reader.badRecord,
        socketError,
        bytesSent,
        timedOut,
      });
    });

    sock.on('connect', async () => {
      const head = Buffer.concat([beginRequest(id), records(FCGI.PARAMS, id, encodeParams(params))]);
      if (!(await writeAsync(sock, head)) || noStdin) return;
      if (bodySize !== undefined) {
        const chunk = record(FCGI.STDIN, id, Buffer.alloc(FCGI.MAX_CONTENT - 7, 'x'));
        const per = FCGI.MAX_CONTENT - 7;
        let left = bodySize;
        while (left >= per) {
          if (!(await writeAsync(sock, chunk))) return;
          left -= per;
          bytesSent += per;
        }
        const last = Buffer.concat([record(FCGI.STDIN, id, Buffer.alloc(left, 'x')), record(FCGI.STDIN, id)]);
        if (!(await writeAsync(sock, last))) return;
        bytesSent += left;
      } else {
        const data = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '');
        if (!(await writeAsync(sock, records(FCGI.STDIN, id, data)))) return;
        bytesSent += data.length;
      }
    });
  });
}

/*
 * fcgiHttp - an HTTP-like request as nginx would pass it (the params of
 * /etc/nginx/fastcgi_params that tallyd reads).  Options:
 *   headers        {Name: value}, sent as HTTP_NAME
 *   body, json     the body (json: serialised, Content-Type set)
 *   bodySize       stream that many bytes instead
 *   noStdin        send no body records at all (see fcgiRequest)
 *   contentLength  the CONTENT_LENGTH to claim: default the body's real
 *                  length (none for bodySize); null: no CONTENT_LENGTH
 *   remoteAddr     REMOTE_ADDR (default 127.0.0.1)
 *   requestId      REQUEST_ID (nginx's $request_id)
 *   params         extra or overriding params
 */
export function fcgiHttp(socketPath, method, uri, opts = {}) {
  const [docUri, query = ''] = uri.split('?');
  const headers = { ...(opts.headers || {}) };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = headers['Content-Type'] ?? 'application/json';
  }
  const bodyBuf = body === undefined ? null : Buffer.from(body);
  let cl = opts.contentLength;
  if (cl === undefined) cl = bodyBuf ? bodyBuf.length : null;
  const params = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'tally-system-tests',
    REQUEST_METHOD: method,
    REQUEST_URI: uri,
    DOCUMENT_URI: docUri,
    SCRIPT_NAME: docUri,
    QUERY_STRING: query,
    REMOTE_ADDR: opts.remoteAddr ?? '127.0.0.1',
    REMOTE_PORT: '40000',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '80',
    SERVER_NAME: 'localhost',
    REQUEST_ID: opts.requestId,
    CONTENT_LENGTH: cl === null ? undefined : cl,
  };
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toUpperCase().replace(/-/g, '_');
    if (name === 'CONTENT_TYPE') params.CONTENT_TYPE = v;
    else params[`HTTP_${name}`] = v;
  }
  Object.assign(params, opts.params || {});
  return fcgiRequest(socketPath, {
    params, body: bodyBuf ?? undefined, bodySize: opts.bodySize, noStdin: opts.noStdin,
    timeoutMs: opts.timeoutMs,
  }).then((res) => {
    try { res.json = JSON.parse(res.text); } catch { res.json = undefined; }
    return res;
  });
}

/*
 * fcgiRaw - write 'bytes' (anything) to the socket, half-close, and
 * collect what comes back until the peer closes or 'timeoutMs' passes:
 * {data, socketError, closedByPeer}.
 */
export function fcgiRaw(socketPath, bytes, { timeoutMs = 5000, halfClose = true } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const chunks = [];
    let socketError = null;
    let closedByPeer = false;
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => { closedByPeer = true; });
    sock.on('error', (e) => { socketError = e.code ?? e.message; });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), socketError, closedByPeer });
    });
    sock.on('connect', () => {
      sock.write(bytes, () => { if (halfClose) sock.end(); });
    });
  });
}
