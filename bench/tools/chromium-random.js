// Random Set-Cookie sequences played in Debian's Chromium (Playwright), recorded for
// `tests/chromium_random.rs`, which replays them through the jar crate and the lab's browser
// and compares the Cookie header byte for byte. Run it through chromium-random.sh.
//
// Usage: node chromium-random.js [SEED=1] [COUNT=1000] [OUT=chromium-random.json] [--fresh]
//        node chromium-random.js --cases=FILE [OUT] [--fresh]
// (--cases plays the cases of FILE, in the output format below without the answers, instead of
// generating them: to confirm a difference on a minimal case.)
//
// A case is 1–6 responses, each to an address-bar navigation (page.goto) of some URL and each
// carrying 1–4 Set-Cookie lines, then one last address-bar navigation whose Cookie request
// header is the answer. Everything is plain http; every name resolves to 127.0.0.1
// (--host-resolver-rules), where this script's own server (the `net` module, raw bytes, since
// Node's http module refuses control bytes in headers) answers.
//
// The generator is seeded (mulberry32), so a seed and a count always give the same cases; the
// Chromium answers are what this Chromium did with them.
//
// Output format (JSON):
//   { chromium_version, seed, count, generated_by, mode, cases: [ {
//       id,                      // "r1", "r2", …
//       steps: [ { url, set_cookie: [line, …], chromium_error? } ],
//       request_url,
//       chromium_cookie } ] }   // the last request's Cookie header; null when none was sent
// - URLs carry no port: whoever replays them puts in its own server's port (cookies do not
//   depend on the port). The player also appends `?c=<id>&s=<step>` (the last request:
//   `s=last`) so the server knows what to answer; the query changes nothing about cookies.
// - Each Set-Cookie line and the recorded Cookie header are bytes. A JSON string holds them
//   when they are valid UTF-8 (the string's UTF-8 encoding is the bytes); otherwise an object
//   {"base64": "..."} holds them.
// - `chromium_error`: the first line of the error page.goto threw on that step, if any (the
//   case then goes on with the next step).
// - `mode`: "clear" (one persistent profile, its cookies cleared before each case; the
//   default) or "fresh" (a new persistent profile per case, --fresh). Both gave the same
//   answers on the first 200 cases of seed 1; "clear" is about four times faster (42 s against
//   2 min 46 s for those 200).
const { chromium } = require('playwright-core');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const fresh = process.argv.includes('--fresh');
const given = process.argv.find((a) => a.startsWith('--cases='))?.slice('--cases='.length);
if (given) args.unshift(null, null);
const seed = Number(args[0] ?? 1);
const count = Number(args[1] ?? 1000);
const out = args[2] ?? 'chromium-random.json';

// ---- the generator -------------------------------------------------------------------

function mulberry32(a) {
  return function () {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(seed);
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const chance = (p) => rnd() < p;
const B = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(x, 'utf8'));
const cat = (...xs) => Buffer.concat(xs.map(B));

const HOSTS = ['a.test', 'sub.a.test', 'b.test', 'x.sub.a.test', '127.0.0.1'];
// Mostly a.test's family, so that Domain, Path and overwrites meet.
const HOST_WEIGHTS = [4, 3, 1, 2, 1];
const PATHS = ['/', '/p', '/p/q', '/pq', '/P', '/p/', '/p/q/r'];
function host() {
  let n = rnd() * HOST_WEIGHTS.reduce((a, b) => a + b);
  for (let i = 0; i < HOSTS.length; i++) {
    n -= HOST_WEIGHTS[i];
    if (n < 0) return HOSTS[i];
  }
  return HOSTS[0];
}

const NAMES = ['a', 'b', 'c', 'id', 'sid'];
const VALUES = ['1', '2', 'x'];
const PREFIXES = [
  '__Secure-', '__Host-', '__Http-', '__Host-Http-',
  '__secure-', '__SECURE-', '__host-', '__HOST-', '__HoSt-', '__http-', '__HTTP-',
  '__host-http-', '__Host-http-', '__HOST-HTTP-', '__Secure', '_Host-',
];
const CONTROL = ['\t', '\x01', '\x7f'];

function long(n) {
  let s = '';
  while (s.length < n) s += 'abcdefghij';
  return s.slice(0, n);
}

function oddText(kind) {
  switch (kind) {
    case 'space': return pick(['a b', ' a', 'a ', ' a b ', '  ']);
    case 'quote': return pick(['"q"', '"', '"a b"', 'a"b', '""', '"x']);
    case 'eq': return pick(['a=b', '==', '=x', 'x=', 'a=b=c']);
    case 'utf8': return pick(['é', '名前', 'ß=ss', '😀', 'Ω x']);
    case 'control': return pick(['a', 'b', '']) + pick(CONTROL) + pick(['1', 'x', '']);
    case 'latin1': return cat('v', Buffer.from([pick([0xe9, 0xff, 0x80])]), 'x');
    default: return pick([',', ';', '\\', '%20', 'a,b']); // ';' only in values
  }
}

function name() {
  const r = rnd();
  if (r < 0.72) return pick(NAMES);
  if (r < 0.82) return pick(PREFIXES) + pick(['a', 'id', '']);
  if (r < 0.97) return oddText(pick(['space', 'quote', 'utf8', 'control', 'control', 'latin1']));
  return long(int(1, 4));
}

function value(prev) {
  const r = rnd();
  if (r < 0.7) return pick(VALUES.filter((v) => v !== prev).concat(VALUES));
  if (r < 0.74) return '';
  return oddText(pick(['space', 'quote', 'eq', 'utf8', 'control', 'control', 'latin1', 'other']));
}

// The name=value part: plain, nameless (`v`, `=v`), or 4 KB around Chromium's limit.
function pair(n, v) {
  if (chance(0.02)) {
    const total = pick([4095, 4096, 4097, 5000]);
    const nameLen = pick([1, 2, 100, 2048, total - 1]);
    return cat(long(nameLen), '=', long(total - nameLen));
  }
  if (chance(0.03)) return cat(v || 'v');
  if (chance(0.02)) return cat('=', v);
  return cat(n, '=', v);
}

const DOMAINS = [
  'a.test', '.a.test', 'sub.a.test', '.sub.a.test', 'x.sub.a.test', 'b.test', '.b.test',
  'test', '.test', 'com', '127.0.0.1', '.127.0.0.1', '.', '', '..a.test', 'A.TEST',
  'a.test.', 'other.a.test', 'sub.A.test', ' a.test', 'localhost', '0.1',
];
const PATH_ATTRS = [
  '/', '/p', '/p/', '/p/q', '/P', '/pq', 'p', '', '/p/..', '/..', '/p/q/', ' /p ', '/p;',
  '//p', '/p/./q', '%2Fp',
];
const MAX_AGES = [
  '60', '0', '-1', '-0', '9223372036854775807', '99999999999999999999', '3.5', 'abc', '',
  '+60', '1e3', ' 60', '0060', '-9223372036854775808', '34560000',
];
const EXPIRES = [
  'Wed, 21 Oct 2099 07:28:00 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Mon, 01 Jan 1990 00:00:00 GMT',
  'Mon, 01 Jan 1600 00:00:00 GMT', 'Fri, 01 Jan 1601 00:00:00 GMT', '01 Jan 1000 00:00:00 GMT',
  'Fri, 31 Dec 9999 23:59:59 GMT', '1 Jan 10000 00:00:00 GMT', 'garbage', '',
  'Wed, 21-Oct-99 07:28:00 GMT', 'Wed, 21-Oct-69 07:28:00 GMT', 'Sun, 06 Nov 1994 08:49:37 GMT',
  '2099-10-21', 'Wed, 32 Oct 2099 07:28:00 GMT', 'Wed, 21 Oct 2099 25:00:00 GMT',
  'Oct 21 2099 07:28:00', '21 Oct 2099', '07:28:00 21 Oct 2099', 'Wed, 21 Oct 1969 07:28:00 GMT',
  'Wed, 21 Oct 1582 07:28:00 GMT',
];
const SAMESITES = ['Strict', 'Lax', 'None', 'strict', 'LAX', 'none', 'NoNe', 'garbage', ''];

function attrName(canonical) {
  return chance(0.15) ? pick([canonical.toLowerCase(), canonical.toUpperCase()]) : canonical;
}

function attribute() {
  switch (int(0, 10)) {
    case 0: case 1: return `${attrName('Domain')}=${pick(DOMAINS)}`;
    case 2: case 3: return `${attrName('Path')}=${pick(PATH_ATTRS)}`;
    case 4: return `${attrName('Max-Age')}=${pick(MAX_AGES)}`;
    case 5: return `${attrName('Expires')}=${pick(EXPIRES)}`;
    case 6: return attrName('Secure') + (chance(0.1) ? '=no' : '');
    case 7: return `${attrName('SameSite')}=${pick(SAMESITES)}`;
    case 8: return attrName('Partitioned');
    case 9: return attrName('HttpOnly');
    default: return pick(['Foo=bar', 'Version=1', '', ' ', 'Comment=x', 'Max-Age', 'Domain',
      'Path', 'Secure=', `Path=/${long(1100)}`, `Domain=${long(1100)}.test`]);
  }
}

// A repeated attribute: two or three of one kind, the last one often empty or invalid.
function repeated() {
  const kind = pick(['Domain', 'Path', 'Max-Age', 'Expires', 'SameSite']);
  const pool = { Domain: DOMAINS, Path: PATH_ATTRS, 'Max-Age': MAX_AGES, Expires: EXPIRES,
    SameSite: SAMESITES }[kind];
  const n = int(2, 3);
  const values = [];
  for (let i = 0; i < n; i++) values.push(pick(pool));
  if (chance(0.5)) values[n - 1] = pick(['', 'garbage', '-', kind === 'Domain' ? '.' : 'x']);
  return values.map((v) => `${kind}=${v}`);
}

function attributes() {
  const attrs = [];
  const n = pick([0, 0, 1, 1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < n; i++) attrs.push(attribute());
  if (chance(0.15)) attrs.push(...repeated());
  return attrs;
}

function line(attrs, nameValue) {
  const sep = () => pick(['; ', '; ', '; ', ';', ' ; ', ';  ']);
  const parts = [nameValue];
  for (const a of attrs) parts.push(sep(), a);
  if (chance(0.03)) parts.push(pick([';', '; ', ';;']));
  return cat(...parts);
}

// A case: earlier lines are remembered, so later ones overwrite them (same attributes, same or
// another value), shadow them on another path or domain, or delete them.
function makeCase(id) {
  const steps = [];
  const seen = [];
  const nSteps = int(1, 6);
  for (let s = 0; s < nSteps; s++) {
    const url = `http://${host()}${pick(PATHS)}`;
    const lines = [];
    const nLines = int(1, 4);
    for (let l = 0; l < nLines; l++) {
      let n, v, attrs;
      const r = rnd();
      if (seen.length && r < 0.2) {
        const old = pick(seen);
        n = old.n; attrs = old.attrs;
        v = chance(0.5) ? old.v : value(old.v);
      } else if (seen.length && r < 0.3) {
        const old = pick(seen);
        n = old.n; v = value(old.v);
        attrs = [pick([`Path=${pick(PATH_ATTRS)}`, `Domain=${pick(DOMAINS)}`, 'Secure'])];
      } else if (seen.length && r < 0.35) {
        const old = pick(seen);
        n = old.n; v = old.v;
        attrs = old.attrs.concat([pick(['Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT',
          'Max-Age=-1'])]);
      } else {
        n = name(); v = value(); attrs = attributes();
      }
      seen.push({ n, v, attrs });
      lines.push(line(attrs, pair(n, v)));
    }
    steps.push({ url, lines });
  }
  // Mostly to a host the case set cookies on, on a path under many of them.
  const last = chance(0.7) ? new URL(pick(steps).url).hostname : host();
  const request_url = `http://${last}${pick(['/p/q/r/s', '/p/q', '/', '/pqr', '/p/', '/P'])}`;
  return { id, steps, request_url };
}

// ---- JSON encoding of bytes -----------------------------------------------------------

function decodeBytes(v) {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.base64, 'base64');
}

function encodeBytes(buf) {
  if (buf === null) return null;
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? text : { base64: buf.toString('base64') };
}

// ---- the server -----------------------------------------------------------------------

const answers = new Map(); // "id/step" → [Buffer lines]
const recorded = new Map(); // id → Buffer | null (the Cookie header of the last request)

function serve(socket) {
  let head = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 1 << 20) socket.destroy();
      return;
    }
    const lines = [];
    let at = 0;
    while (at < end) {
      const next = head.indexOf('\r\n', at);
      lines.push(head.subarray(at, next));
      at = next + 2;
    }
    const target = lines[0].toString('latin1').split(' ')[1] || '/';
    const query = new URLSearchParams(target.split('?')[1] || '');
    const c = query.get('c');
    const s = query.get('s');
    let cookie = null;
    for (const l of lines.slice(1)) {
      if (l.subarray(0, 7).toString('latin1').toLowerCase() === 'cookie:') {
        let v = l.subarray(7);
        while (v.length && (v[0] === 0x20 || v[0] === 0x09)) v = v.subarray(1);
        cookie = v;
      }
    }
    let status = '404 Not Found';
    let setCookies = [];
    if (c && s === 'last') {
      recorded.set(c, cookie);
      status = '200 OK';
    } else if (c && answers.has(`${c}/${s}`)) {
      setCookies = answers.get(`${c}/${s}`);
      status = '200 OK';
    }
    const body = Buffer.from('<!doctype html><title>case</title>ok');
    const parts = [Buffer.from(`HTTP/1.1 ${status}\r\n`)];
    for (const l of setCookies) parts.push(Buffer.from('Set-Cookie: '), l, Buffer.from('\r\n'));
    parts.push(Buffer.from('Content-Type: text/html\r\nCache-Control: no-store\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body);
    socket.end(Buffer.concat(parts));
  });
}

// ---- playing --------------------------------------------------------------------------

(async () => {
  const cases = [];
  if (given) {
    for (const c of JSON.parse(fs.readFileSync(given, 'utf8')).cases) {
      cases.push({ id: c.id, request_url: c.request_url,
        steps: c.steps.map((st) => ({ url: st.url, lines: st.set_cookie.map(decodeBytes) })) });
    }
  } else {
    for (let i = 1; i <= count; i++) cases.push(makeCase(`r${i}`));
  }
  for (const c of cases) c.steps.forEach((st, s) => answers.set(`${c.id}/${s}`, st.lines));

  const server = net.createServer(serve);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const withPort = (url, id, s) => {
    const u = new URL(url);
    return `http://${u.hostname}:${port}${u.pathname}?c=${id}&s=${s}`;
  };

  const launchArgs = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP * 127.0.0.1',
  ];
  const launch = async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-random-'));
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: launchArgs,
    });
    return { dir, context, page: context.pages()[0] || (await context.newPage()) };
  };
  const close = async (b) => {
    await b.context.close();
    fs.rmSync(b.dir, { recursive: true, force: true });
  };

  let browser = await launch();
  const version = browser.context.browser()?.version() ??
    (await browser.page.evaluate(() => navigator.userAgent)).match(/Chrome\/([\d.]+)/)[1];
  let errors = 0;
  for (const [i, c] of cases.entries()) {
    if (fresh && i > 0) {
      await close(browser);
      browser = await launch();
    } else {
      await browser.context.clearCookies();
    }
    for (const [s, st] of c.steps.entries()) {
      try {
        await browser.page.goto(withPort(st.url, c.id, s));
      } catch (e) {
        st.error = e.message.split('\n')[0];
        errors++;
      }
    }
    try {
      await browser.page.goto(withPort(c.request_url, c.id, 'last'));
    } catch (e) {
      console.error(`${c.id}: the last request failed: ${e.message.split('\n')[0]}`);
    }
    if (!recorded.has(c.id)) throw new Error(`${c.id}: the last request never reached the server`);
    if ((i + 1) % 100 === 0) console.error(`${i + 1} of ${cases.length} cases played`);
  }
  await close(browser);
  server.close();

  const json = {
    chromium_version: version,
    seed: given ? null : seed,
    count: cases.length,
    generated_by: given ? `chromium-random.js --cases=${path.basename(given)}`
      : `bench/tools/chromium-random.sh ${seed} ${count}` + (fresh ? ' --fresh' : ''),
    mode: fresh ? 'fresh' : 'clear',
    cases: cases.map((c) => ({
      id: c.id,
      steps: c.steps.map((st) => ({
        url: st.url,
        set_cookie: st.lines.map(encodeBytes),
        ...(st.error ? { chromium_error: st.error } : {}),
      })),
      request_url: c.request_url,
      chromium_cookie: encodeBytes(recorded.get(c.id)),
    })),
  };
  fs.writeFileSync(out, JSON.stringify(json, null, 0).replace(/\{"id":/g, '\n{"id":') + '\n');
  console.error(`${cases.length} cases played (${errors} page loads failed), written to ${out}`);
})();
