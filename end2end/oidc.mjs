// Starts the test OpenID Connect provider (end2end/oidc/provider.mjs) for browser tests.
//
//   const oidc = await startOidcProvider({ redirectUris: [`${base}/auth/callback`] });
//   ... sign in as paul / paul-pw on the provider's form ...
//   await oidc.stop();
//
// The users, clients and secrets are listed at the top of provider.mjs.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PROVIDER = fileURLToPath(new URL('./oidc/provider.mjs', import.meta.url));

/**
 * Spawns the provider on a free loopback port and resolves once it is ready.
 * @param {{ redirectUris: string[], postLogoutRedirectUris?: string[], idTokenTtl?: number }} options
 * @returns {Promise<{ issuer: string, stop: () => Promise<void> }>}
 */
export async function startOidcProvider({ redirectUris, postLogoutRedirectUris = [], idTokenTtl } = {}) {
  if (!redirectUris?.length) throw new Error('startOidcProvider needs at least one redirect URI');
  const args = [PROVIDER, '--port', '0', '--exit-on-stdin-close'];
  for (const uri of redirectUris) args.push('--redirect-uri', uri);
  for (const uri of postLogoutRedirectUris) args.push('--post-logout-redirect-uri', uri);
  if (idTokenTtl !== undefined) args.push('--id-token-ttl', String(idTokenTtl));

  // stdin stays an open pipe: the provider exits when it closes, even if this process dies.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });

  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OIDC provider did not start within 30 s')), 30_000);
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
  }).catch((err) => {
    child.kill('SIGKILL');
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
