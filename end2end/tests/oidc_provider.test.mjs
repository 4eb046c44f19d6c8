// The test OpenID Connect provider (end2end/oidc) in a real browser, with JavaScript on and
// off: its login form, the code it hands back, and RP-initiated logout. No apiary needed; a
// stub relying party on loopback answers the redirects.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { startOidcProvider } from '../oidc.mjs';

let browser;
let rp; // the stub relying party: answers every request with a small page
let oidc;
let discovery;

before(async () => {
  rp = createServer((_req, res) => res.end('relying party'));
  await new Promise((ok) => rp.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${rp.address().port}`;
  rp.callback = `${base}/auth/callback`;
  rp.signedOut = `${base}/signed-out`;
  oidc = await startOidcProvider({ redirectUris: [rp.callback], postLogoutRedirectUris: [rp.signedOut] });
  discovery = await (await fetch(`${oidc.issuer}/.well-known/openid-configuration`)).json();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await oidc?.stop();
  rp?.close();
});

/** A PKCE authorization request for the `apiary` client. */
function authRequest() {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: 'apiary',
    response_type: 'code',
    redirect_uri: rp.callback,
    scope: 'openid profile email groups',
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  return { url: url.href, verifier, state, nonce };
}

/** Exchanges a code at the token endpoint (client_secret_basic) and returns the ID token claims. */
async function idTokenClaims(code, verifier) {
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('apiary:apiary-test-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: rp.callback, code_verifier: verifier }),
  });
  const tokens = await res.json();
  assert.equal(res.status, 200, JSON.stringify(tokens));
  return { idToken: tokens.id_token, claims: JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url')) };
}

/** The provider's logout URL for `idToken`, back to the stub's signed-out page. */
function logoutUrl(idToken) {
  const url = new URL(discovery.end_session_endpoint);
  url.search = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: rp.signedOut, state: 'bye' });
  return url.href;
}

test('with JavaScript: sign in as olga, get her groups, and sign out without a click', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  const request = authRequest();

  await page.goto(request.url);
  await page.getByLabel('Username').fill('olga');
  await page.getByLabel('Password').fill('olga-pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${rp.callback}?**`);
  const callback = new URL(page.url());
  assert.equal(callback.searchParams.get('state'), request.state);

  const { idToken, claims } = await idTokenClaims(callback.searchParams.get('code'), request.verifier);
  assert.equal(claims.aud, 'apiary');
  assert.equal(claims.nonce, request.nonce);
  assert.equal(claims.preferred_username, 'olga');
  assert.deepEqual(claims.groups, ['apiary-owners', 'team-search']);

  await page.goto(logoutUrl(idToken));
  await page.waitForURL(`${rp.signedOut}?**`);
  assert.equal(new URL(page.url()).searchParams.get('state'), 'bye');
  assert.deepEqual(errors, []);
  await page.close();
});

test('without JavaScript: a wrong password shows the form again, then sign in and out by hand', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const request = authRequest();

  await page.goto(request.url);
  await page.getByLabel('Username').fill('nora');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
  assert.ok(!page.url().startsWith(rp.callback));

  await page.getByLabel('Password').fill('nora-pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${rp.callback}?**`);
  const callback = new URL(page.url());
  const { idToken, claims } = await idTokenClaims(callback.searchParams.get('code'), request.verifier);
  assert.equal(claims.sub, 'nora');
  assert.deepEqual(claims.groups, []);

  await page.goto(logoutUrl(idToken));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${rp.signedOut}?**`);
  await context.close();
});
