// Sign-in in a real browser against the real OpenID provider: a consumer signs in, browses the
// catalog, and signs out back to the provider's sign-in page; an admin's session seeds data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { signIn, startSignedInApiary } from '../signin.mjs';

let apiary;
let browser;

const servers = {
  'search/osv': {
    description: 'Open source vulnerability lookups',
    ownerTeam: 'search',
    category: 'security',
    spec: { url: 'http://127.0.0.1:9/mcp', transport: 'streamable-http' },
  },
  'data/weather': {
    description: 'Forecasts and observations',
    ownerTeam: 'data',
    category: 'knowledge',
    spec: { url: 'http://127.0.0.1:9/mcp', transport: 'streamable-http' },
  },
};

before(async () => {
  apiary = await startSignedInApiary();
  browser = await launchBrowser();
  // The admin registers the servers through the API with their own session.
  const admin = await browser.newContext();
  await signIn(await admin.newPage(), apiary.url, 'adam');
  for (const [id, body] of Object.entries(servers)) {
    const res = await admin.request.put(`${apiary.url}/api/v1/servers/${id}`, { data: body });
    assert.ok(res.ok(), `registering ${id}: ${res.status()} ${await res.text()}`);
  }
  await admin.close();
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

test('a consumer signs in, browses the catalog, and signs out to the sign-in page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);

  // Not signed in: the console sends the browser to the provider's sign-in form.
  await page.goto(`${apiary.url}/`);
  assert.ok(page.url().startsWith(apiary.issuer), `at the provider: ${page.url()}`);
  await signIn(page, apiary.url, 'carol');
  await page.locator('body[data-hydrated="true"]').waitFor();
  assert.equal(await page.getByTestId('viewer-name').innerText(), 'Carol Consumer');
  assert.equal(await page.getByTestId('local-mode-banner').count(), 0, 'no local-mode banner');
  assert.deepEqual(
    await page.getByTestId('server-card').evaluateAll((els) => els.map((e) => e.dataset.server)),
    ['data/weather', 'search/osv'],
  );

  // A consumer may browse but not change anything, even by calling the API directly.
  const refused = await context.request.put(`${apiary.url}/api/v1/servers/search/osv`, {
    data: servers['search/osv'],
  });
  assert.equal(refused.status(), 403);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel(/username/i).waitFor();
  assert.ok(page.url().startsWith(apiary.issuer), `back at the provider's sign-in: ${page.url()}`);
  const home = await context.request.get(`${apiary.url}/api/v1/servers/search/osv/snapshots`);
  assert.equal(home.status(), 401, 'the Apiary session is gone');
  assert.deepEqual(errors, []);
  await context.close();
});
