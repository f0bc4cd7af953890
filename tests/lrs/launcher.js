#!/usr/bin/env node
'use strict';
/*
 * adoptloop test LRS launcher.
 *
 * Runs Learning Locker's statement service (npm package `xapi-statements`, pinned in
 * package.json next to this file) for integration tests, reachable ONLY on 127.0.0.1.
 *
 * How the service is kept off non-loopback interfaces
 * ---------------------------------------------------
 * The package's entry point (package.json "main" -> dist/index.js -> dist/server.js) builds an
 * express app and calls `app.listen(EXPRESS_PORT, cb)` with no host, which binds every
 * interface, and it has no host setting. We therefore do not let that listen call happen:
 * before loading dist/server.js we replace `listen` on the application prototype of the very
 * express copy the package resolves, so the call just hands us the app (and its ready callback)
 * without opening a socket. Our own node `http` server, bound to 127.0.0.1:<LRS_PORT>, does the
 * Basic-auth check and the pause (503) switch and then passes the request to that app in the
 * same process. There is no internal port and no proxy hop: the one listening socket of this
 * process is ours, on loopback.
 * As a second guard, `net.Server.prototype.listen` is wrapped so that any other listen on a
 * TCP port without an explicit loopback host (e.g. a future version that calls
 * `http.createServer(app).listen(port)` directly) throws and the launcher exits non-zero,
 * instead of silently exposing the service.
 *
 * Environment
 * -----------
 *   LRS_PORT            port to listen on, on 127.0.0.1 (0 or unset: pick a free one). The
 *                       ready line below reports the actual port.
 *   LRS_USERNAME        HTTP Basic username clients must send (required)
 *   LRS_PASSWORD        HTTP Basic password clients must send (required)
 *   LRS_CONTROL_TOKEN   enables POST /_control/pause|resume|status with header
 *                       `X-LRS-Control-Token: <token>` (unset: control endpoints answer 404)
 *   LRS_DATA_DIR        working dir for the service's local storage and access logs
 *                       (unset: a fresh temp dir, removed on exit)
 *   LRS_EXIT_ON_STDIN_EOF=1  exit when stdin closes (so a crashed parent leaves no orphan)
 *
 * The service itself always runs with MODELS_REPO=memory STORAGE_REPO=local AUTH_REPO=test
 * EVENTS_REPO=test SERVICE_AWAIT_UPDATES=true (forced here: no mongo/redis, everything is in
 * memory and lost on exit; the `test` auth repo accepts any Authorization header, which is why
 * the credential check is done here).
 *
 * Behaviour of our layer
 *   - GET/HEAD /xAPI/about: open (no credentials needed) unless paused.
 *   - any other request: needs `Authorization: Basic base64(LRS_USERNAME:LRS_PASSWORD)`,
 *     else 401 + `WWW-Authenticate: Basic realm="adoptloop-test-lrs"` + JSON
 *     {"errorId": "<uuid>", "message": "..."} (the same shape the service uses for its errors).
 *   - while paused, every /xAPI/ request answers 503 + `Retry-After: 1` + the same JSON shape.
 *   - Prints exactly one line `LRS ready on http://127.0.0.1:<port>/xAPI` on stdout once
 *     listening. The service's own log lines (winston) also go to stdout/stderr.
 */

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const HERE = __dirname;
const PACKAGE_NAME = 'xapi-statements';
const LOOPBACK_HOST = '127.0.0.1';
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

function fail(message) {
  process.stderr.write(`launcher: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- configuration
const username = process.env.LRS_USERNAME;
const password = process.env.LRS_PASSWORD;
if (!username || password === undefined || password === '') {
  fail('LRS_USERNAME and LRS_PASSWORD must be set (non-empty)');
}
const controlToken = process.env.LRS_CONTROL_TOKEN || '';
const requestedPort = Number(process.env.LRS_PORT || '0');
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  fail(`invalid LRS_PORT ${JSON.stringify(process.env.LRS_PORT)}`);
}

let dataDir = process.env.LRS_DATA_DIR || '';
let removeDataDir = false;
if (dataDir === '') {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adoptloop-lrs-'));
  removeDataDir = true;
}
dataDir = path.resolve(dataDir);
fs.mkdirSync(path.join(dataDir, 'storage', 'accessLogs'), { recursive: true });
process.on('exit', () => {
  if (removeDataDir) {
    try {
      fs.rmSync(dataDir, { recursive: true, force: true });
    } catch (_err) {
      // best effort
    }
  }
});

// The service reads its config from the environment (and a `.env` in the cwd via dotenv): run
// it from the data dir so no stray .env is picked up, and pin the in-memory, no-network repos.
process.chdir(dataDir);
Object.assign(process.env, {
  MODELS_REPO: 'memory',
  STORAGE_REPO: 'local',
  AUTH_REPO: 'test',
  EVENTS_REPO: 'test',
  SERVICE_AWAIT_UPDATES: 'true',
  FS_LOCAL_STORAGE_DIR: path.join(dataDir, 'storage'),
  EXPRESS_MORGAN_DIRECTORY: path.join(dataDir, 'storage', 'accessLogs'),
  // Only used by the service for log text / the unused `fetch` auth repo; the real port is ours.
  EXPRESS_PORT: String(requestedPort || 8080),
  WINSTON_CONSOLE_LEVEL: process.env.WINSTON_CONSOLE_LEVEL || 'warn',
  // aws-sdk v2 (a dependency of the unused s3 repo) prints an end-of-support banner otherwise.
  AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
});

// ---------------------------------------------------------------- loopback guard
function isLoopbackListen(args) {
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    if (first.path !== undefined || first.fd !== undefined || first._handle !== undefined) {
      return true; // unix socket / inherited handle: not a TCP interface
    }
    return first.host !== undefined && LOOPBACK_HOSTS.has(String(first.host));
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) {
    return true; // unix socket path
  }
  return typeof args[1] === 'string' && LOOPBACK_HOSTS.has(args[1]);
}

const originalNetListen = net.Server.prototype.listen;
net.Server.prototype.listen = function guardedListen(...args) {
  if (!isLoopbackListen(args)) {
    throw new Error(
      `launcher: refusing a listen() that is not bound to loopback: ${JSON.stringify(args[0])}`,
    );
  }
  return originalNetListen.apply(this, args);
};

// ---------------------------------------------------------------- capture the service's app
let packageDir;
try {
  packageDir = path.dirname(require.resolve(`${PACKAGE_NAME}/package.json`, { paths: [HERE] }));
} catch (_err) {
  fail(`${PACKAGE_NAME} is not installed; run: npm ci --ignore-scripts --prefix ${HERE}`);
}
const packageJson = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
const entryPoint = path.join(packageDir, packageJson.main || 'index.js');
const express = require(require.resolve('express', { paths: [packageDir] }));

let serviceApp = null;
let serviceReady = null;
express.application.listen = function capturedListen(...args) {
  if (serviceApp !== null) {
    throw new Error('launcher: the service called listen() twice');
  }
  serviceApp = this;
  serviceReady = args.find((arg) => typeof arg === 'function') || null;
  // Hand back something server-like; the service does not use the return value.
  return { close: (cb) => cb && cb(), address: () => null };
};

require(entryPoint);
if (serviceApp === null) {
  fail(`${entryPoint} did not call app.listen(); cannot attach the service`);
}

// ---------------------------------------------------------------- our front server
let paused = false;

function sendJson(res, code, body, headers) {
  const payload = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'X-Experience-API-Version': '1.0.3',
    ...(headers || {}),
  });
  res.end(payload);
}

function errorBody(message) {
  return { errorId: crypto.randomUUID(), message };
}

function safeEqual(a, b) {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

const expectedAuth = Buffer.from(`${username}:${password}`, 'utf8');

function hasValidBasicAuth(req) {
  const header = req.headers.authorization || '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) {
    return false;
  }
  return safeEqual(Buffer.from(match[1], 'base64'), expectedAuth);
}

function drainThen(req, fn) {
  // Read (and discard) any request body before answering so keep-alive clients stay in sync.
  req.on('error', () => {});
  req.resume();
  req.on('end', fn);
}

function handleControl(req, res, pathname) {
  const given = req.headers['x-lrs-control-token'];
  if (controlToken === '' || typeof given !== 'string' || !safeEqual(given, controlToken)) {
    drainThen(req, () => sendJson(res, 404, errorBody('Not found')));
    return;
  }
  drainThen(req, () => {
    if (req.method === 'POST' && pathname === '/_control/pause') {
      paused = true;
    } else if (req.method === 'POST' && pathname === '/_control/resume') {
      paused = false;
    } else if (!(pathname === '/_control/status' && (req.method === 'GET' || req.method === 'POST'))) {
      sendJson(res, 404, errorBody('Unknown control action'));
      return;
    }
    sendJson(res, 200, { paused });
  });
}

function handle(req, res) {
  let pathname;
  try {
    pathname = new URL(req.url, 'http://127.0.0.1').pathname;
  } catch (_err) {
    drainThen(req, () => sendJson(res, 400, errorBody('Malformed request URL')));
    return;
  }
  if (pathname === '/_control' || pathname.startsWith('/_control/')) {
    handleControl(req, res, pathname);
    return;
  }
  if (paused && (pathname === '/xAPI' || pathname.startsWith('/xAPI/'))) {
    drainThen(req, () =>
      sendJson(res, 503, errorBody('LRS paused for testing (simulated outage)'), {
        'Retry-After': '1',
      }),
    );
    return;
  }
  const isAbout =
    (req.method === 'GET' || req.method === 'HEAD') &&
    (pathname === '/xAPI/about' || pathname === '/xAPI/about/');
  if (!isAbout && !hasValidBasicAuth(req)) {
    const message = req.headers.authorization
      ? 'Invalid credentials'
      : 'Missing credentials: HTTP Basic authentication is required';
    drainThen(req, () =>
      sendJson(res, 401, errorBody(message), {
        'WWW-Authenticate': 'Basic realm="adoptloop-test-lrs", charset="UTF-8"',
      }),
    );
    return;
  }
  serviceApp(req, res);
}

const server = http.createServer(handle);
server.on('clientError', (_err, socket) => {
  if (socket.writable) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  }
});
server.on('error', (err) => fail(`cannot listen on ${LOOPBACK_HOST}:${requestedPort}: ${err.message}`));
server.listen(requestedPort, LOOPBACK_HOST, () => {
  const { port } = server.address();
  // Lets the service register its exit/signal handlers (SIGTERM/SIGINT -> process.exit()).
  if (serviceReady !== null) {
    serviceReady();
  }
  process.stdout.write(`LRS ready on http://${LOOPBACK_HOST}:${port}/xAPI\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  // The service registers its own handlers in serviceReady(); this covers the time before.
  process.once(signal, () => process.exit(0));
}

if (process.env.LRS_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
