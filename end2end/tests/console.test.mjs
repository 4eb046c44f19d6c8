// The catalog's search and facets and a server's page, in a real browser: hydrated (a select
// applies its choice at once) and with JavaScript off (plain GET form). Tools come from live fetches of
// `apiary-testmcp` servers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser, startApiary } from '../harness.mjs';
import {
  applyFilters, cardIds, chooseFacet, openCatalog, openServerFromCatalog, registerToolServer,
  schemaRows, scrollsSideways, searchCatalog, waitForCards, waitForHydration,
} from '../steps/console.mjs';

let apiary;
let browser;

const weatherTools = [{
  name: 'get_forecast',
  description: 'Hourly outlook for a city',
  inputSchema: {
    type: 'object',
    required: ['city'],
    properties: {
      city: { type: 'string', description: 'City name' },
      units: { type: 'string', enum: ['metric', 'imperial'] },
    },
  },
}];
const ticketTools = [{
  name: 'open_ticket',
  description: 'Files a support ticket',
  inputSchema: { type: 'object', properties: { title: { type: 'string' } } },
}];

before(async () => {
  apiary = await startApiary();
  browser = await launchBrowser();
  await registerToolServer(apiary.url, 'data', 'weather', { description: 'Forecasts', ownerTeam: 'climate', category: 'data' }, weatherTools);
  await registerToolServer(apiary.url, 'support', 'tickets', { description: 'Help desk', ownerTeam: 'care', category: 'productivity' }, ticketTools);
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

test('hydrated: search by a tool, filter by a facet, open a server and read its argument table', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await openCatalog(page, apiary.url);
  assert.deepEqual(await cardIds(page), ['data/weather', 'support/tickets']);

  await searchCatalog(page, 'hourly outlook');
  await page.waitForURL(/[?&]q=hourly\+outlook/);
  await waitForCards(page, ['data/weather']);

  await searchCatalog(page, '');
  await waitForCards(page, ['data/weather', 'support/tickets']);
  await waitForHydration(page);
  await chooseFacet(page, 'Owner team', 'care');
  await page.waitForURL(/[?&]owner=care/);
  await waitForCards(page, ['support/tickets']);

  await waitForHydration(page);
  await chooseFacet(page, 'Owner team', '');
  await waitForCards(page, ['data/weather', 'support/tickets']);
  await openServerFromCatalog(page, 'data/weather');
  assert.deepEqual(await schemaRows(page, 'get_forecast'), [
    { property: 'city', type: 'string', required: 'required', allowed: '' },
    { property: 'units', type: 'string', required: 'optional', allowed: 'metric, imperial' },
  ]);
  await page.getByTestId('latency-chart').waitFor();
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('with the keyboard, arrow keys move a facet choice and only Enter applies it', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await openCatalog(page, apiary.url);
  const owner = page.getByLabel('Owner team');
  await owner.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.waitForTimeout(500);
  assert.equal(new URL(page.url()).search, '', 'no navigation on arrow keys');
  assert.deepEqual(await cardIds(page), ['data/weather', 'support/tickets']);
  const chosen = await owner.inputValue();
  assert.notEqual(chosen, '', 'the arrow keys moved the choice');
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`[?&]owner=${chosen}`));
  await waitForCards(page, chosen === 'care' ? ['support/tickets'] : ['data/weather']);
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('hydrated: the sort order and the tool filter apply and stay in the URL', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await openCatalog(page, apiary.url);
  await chooseFacet(page, 'Sort by', 'tools');
  await page.waitForURL(/[?&]sort=tools/);
  await waitForCards(page, ['data/weather', 'support/tickets']);
  assert.equal(await page.getByLabel('Sort by', { exact: true }).inputValue(), 'tools', 'the order stays chosen');

  await openServerFromCatalog(page, 'data/weather');
  const filter = page.getByTestId('tool-filter');
  await filter.fill('no such words');
  await filter.press('Enter');
  await page.waitForURL(/[?&]tool=no\+such\+words/);
  await page.getByText('0 of 1 tools match “no such words”').waitFor();
  assert.equal(await page.getByTestId('tool').count(), 0);
  await filter.fill('HOURLY');
  await filter.press('Enter');
  await page.getByText('1 of 1 tools match “HOURLY”').waitFor();
  assert.deepEqual(await schemaRows(page, 'get_forecast'), [
    { property: 'city', type: 'string', required: 'required', allowed: '' },
    { property: 'units', type: 'string', required: 'optional', allowed: 'metric, imperial' },
  ]);
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('without JavaScript the facet form filters on the server and the server page is complete', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await openCatalog(page, apiary.url, { hydrated: false });
  await chooseFacet(page, 'Category', 'data');
  await applyFilters(page);
  await page.waitForURL(/[?&]category=data/);
  assert.deepEqual(await cardIds(page), ['data/weather']);

  await page.getByTestId('catalog-search').fill('ticket');
  await chooseFacet(page, 'Category', '');
  await applyFilters(page);
  await page.waitForURL(/[?&]q=ticket/);
  assert.deepEqual(await cardIds(page), ['support/tickets']);

  await openServerFromCatalog(page, 'support/tickets');
  assert.deepEqual(await schemaRows(page, 'open_ticket'), [
    { property: 'title', type: 'string', required: 'optional', allowed: '' },
  ]);
  await page.getByText('Raw JSON schema').click();
  await page.getByText('"title"').first().waitFor();
  await context.close();
});

test('at 375 px wide neither page scrolls sideways', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
  await openCatalog(page, apiary.url);
  assert.equal(await scrollsSideways(page), false, 'the catalog fits');
  await openServerFromCatalog(page, 'data/weather');
  assert.equal(await scrollsSideways(page), false, 'the server page fits; tables scroll in their own box');
  await page.close();
});
