// Test harness: starts a real `apiary` on a free loopback port with a fresh data folder, and a
// headless Debian chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const repo = resolve(import.meta.dirname, '..');

/**
 * A listening socket on a free loopback port, to hand to apiary (socket activation: the
 * systemd `LISTEN_FDS` protocol), so no other process can take the port in between.
 * `close()` releases this process's copy; startApiary calls it once the child has its own.
 */
export async function bindSocket() {
  const server = createServer();
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen({ port: 0, host: '127.0.0.1' }, ok);
  });
  return {
    port: server.address().port,
    fd: server._handle.fd,
    close: () => server.close(),
  };
}

/**
 * Starts apiary (APIARY_BIN, or the debug build) and waits until /readyz answers.
 * `socket` (from bindSocket) fixes the port, for sign-in tests that register the callback URL
 * with the provider first; by default a fresh one is bound.
 */
export async function startApiary(extraEnv = {}, { socket: given } = {}) {
  const socket = given ?? await bindSocket();
  const { port } = socket;
  const dataDir = mkdtempSync(join(tmpdir(), 'apiary-e2e-'));
  const bin = process.env.APIARY_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, 'target'), 'debug', 'apiary');
  const child = spawn(bin, ['serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LISTEN_FDS: '1',
      APIARY_DATA_DIR: dataDir,
      APIARY_LOG: 'warn',
      ...(process.env.APIARY_SITE_DIR ? { APIARY_SITE_DIR: process.env.APIARY_SITE_DIR } : {}),
      ...extraEnv,
    },
    // fd 3 is the listening socket.
    stdio: ['ignore', 'inherit', 'inherit', socket.fd],
  });
  socket.close();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`apiary exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('apiary was not ready within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless chromium from Debian, with no background traffic to the (closed) internet. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Collects console errors and uncaught page errors, to assert that there were none. */
export function collectErrors(page) {
  const errors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/** Registers a server through Apiary's own API. */
export async function registerServer(baseUrl, namespace, name, body) {
  const res = await fetch(`${baseUrl}/api/v1/servers/${namespace}/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`registering ${namespace}/${name}: ${res.status} ${await res.text()}`);
}
