// Sign-in in a real browser against the real OpenID provider: a consumer signs in, searches
// the catalog, filters by a facet, opens a server and reads its argument table, and signs out
// back to the provider's sign-in page. An admin's session seeds the servers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { signIn, startSignedInApiary } from '../signin.mjs';
import {
  cardIds, chooseFacet, openServerFromCatalog, registerToolServer, schemaRows, searchCatalog,
  waitForCards, waitForHydration,
} from '../steps/console.mjs';

let apiary;
let browser;

const osvTools = [{
  name: 'query_vulnerabilities',
  description: 'Known vulnerabilities of a package version',
  inputSchema: {
    type: 'object',
    required: ['package'],
    properties: {
      package: { type: 'string', description: 'Package name' },
      ecosystem: { type: 'string', enum: ['npm', 'PyPI', 'crates.io'] },
    },
  },
}];
const weatherTools = [{
  name: 'get_forecast',
  description: 'Hourly outlook for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
}];

before(async () => {
  apiary = await startSignedInApiary();
  browser = await launchBrowser();
  const admin = await browser.newContext();
  await signIn(await admin.newPage(), apiary.url, 'adam');
  await registerToolServer(apiary.url, 'search', 'osv',
    { description: 'Open source vulnerability lookups', ownerTeam: 'search', category: 'security' },
    osvTools, { request: admin.request });
  await registerToolServer(apiary.url, 'data', 'weather',
    { description: 'Forecasts and observations', ownerTeam: 'data', category: 'knowledge' },
    weatherTools, { request: admin.request });
  await admin.close();
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

test('a consumer signs in, searches, filters, reads a schema, and signs out to the sign-in page', async () => {
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
  assert.deepEqual(await cardIds(page), ['data/weather', 'search/osv']);

  await searchCatalog(page, 'vulnerabilities');
  await page.waitForURL(/[?&]q=vulnerabilities/);
  await waitForCards(page, ['search/osv']);
  await searchCatalog(page, '');
  await waitForCards(page, ['data/weather', 'search/osv']);
  await waitForHydration(page);
  await chooseFacet(page, 'Category', 'security');
  await page.waitForURL(/[?&]category=security/);
  await waitForCards(page, ['search/osv']);

  await openServerFromCatalog(page, 'search/osv');
  // In the order the server declares its properties.
  assert.deepEqual(await schemaRows(page, 'query_vulnerabilities'), [
    { property: 'package', type: 'string', required: 'required', allowed: '' },
    { property: 'ecosystem', type: 'string', required: 'optional', allowed: 'npm, PyPI, crates.io' },
  ]);

  // A consumer may browse but not change anything, even by calling the API directly.
  const refused = await context.request.post(`${apiary.url}/api/v1/servers/search/osv/refresh`);
  assert.equal(refused.status(), 403);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel(/username/i).waitFor();
  assert.ok(page.url().startsWith(apiary.issuer), `back at the provider's sign-in: ${page.url()}`);
  const after = await context.request.get(`${apiary.url}/api/v1/servers/search/osv/snapshots`);
  assert.equal(after.status(), 401, 'the Apiary session is gone');
  assert.deepEqual(errors, [], 'no console errors (CSP included)');
  await context.close();
});
