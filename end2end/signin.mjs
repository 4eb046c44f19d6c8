// Apiary with OIDC sign-in in front of the real test provider, and signing in through the
// provider's form the way a person does.
import { startOidcProvider } from './oidc.mjs';
import { bindSocket, startApiary } from './harness.mjs';

/** Starts the provider and an Apiary that trusts it; `stop()` stops both. */
export async function startSignedInApiary() {
  const socket = await bindSocket();
  const url = `http://127.0.0.1:${socket.port}`;
  const oidc = await startOidcProvider({
    redirectUris: [`${url}/auth/callback`],
    postLogoutRedirectUris: [`${url}/`],
  });
  const apiary = await startApiary({
    APIARY_OIDC_ISSUER: oidc.issuer,
    APIARY_OIDC_CLIENT_ID: 'apiary',
    APIARY_OIDC_CLIENT_SECRET: 'apiary-test-secret',
    APIARY_OIDC_SCOPES: 'openid profile email groups',
    APIARY_PUBLIC_URL: url,
  }, { socket });
  return {
    url,
    issuer: oidc.issuer,
    async stop() {
      await apiary.stop();
      await oidc.stop();
    },
  };
}

/**
 * Opens `path` in `page`, which bounces to the provider's sign-in form, and signs in as `user`
 * (password `<user>-pw`); resolves once Apiary shows the page again.
 */
export async function signIn(page, baseUrl, user, path = '/') {
  await page.goto(`${baseUrl}${path}`);
  await page.getByLabel(/username/i).fill(user);
  await page.getByLabel(/password/i).fill(`${user}-pw`);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL((url) => url.href.startsWith(baseUrl));
}
