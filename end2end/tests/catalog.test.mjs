// The catalog page in a real browser, hydrated and with JavaScript off.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser, registerServer, startApiary } from '../harness.mjs';

let apiary;
let browser;

before(async () => {
  apiary = await startApiary();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

const everything = {
  description: 'Reference server that exercises every MCP feature',
  ownerTeam: 'platform',
  category: 'testing',
  sensitivity: 'public',
  costClass: 'free',
  spec: { image: 'npx://@modelcontextprotocol/server-everything', transport: 'stdio' },
  published: false, // listed, but not started or fetched: these tests need no package downloads
};
const time = {
  description: 'Current time and time-zone conversion',
  ownerTeam: 'productivity',
  category: 'utilities',
  spec: { image: 'uvx://mcp-server-time', transport: 'stdio' },
  published: false, // listed, but not started or fetched: these tests need no package downloads
};

test('hydrated: empty state, then two servers, then a search that says it is updating until the results arrive', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);

  await page.goto(`${apiary.url}/`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  const empty = page.getByTestId('empty-state');
  await empty.waitFor();
  assert.match(await empty.innerText(), /No servers yet/);
  assert.equal(
    await empty.getByRole('link', { name: 'Propose a server' }).getAttribute('href'),
    '/propose',
    'the empty state leads to the propose form',
  );
  assert.equal(await page.getByTestId('local-mode-banner').isVisible(), true);

  await registerServer(apiary.url, 'platform', 'everything', everything);
  await registerServer(apiary.url, 'productivity', 'time', time);
  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  const cards = page.getByTestId('server-card');
  assert.deepEqual(
    await cards.evaluateAll((els) => els.map((e) => e.dataset.server)),
    ['platform/everything', 'productivity/time'],
  );

  assert.deepEqual(
    await page.getByTestId('health-badge').allTextContents(),
    ['Health: not checked yet', 'Health: not checked yet'],
    'unpublished servers are never fetched, and the badge says so in words',
  );
  assert.deepEqual(
    await cards.evaluateAll((els) => els.map((e) => e.querySelector('[data-testid="metadata-chips"]')?.innerText.replace(/\s+/g, ' ').trim())),
    ['Category: testing Sensitivity: public Cost: free', 'Category: utilities'],
    'each card shows the metadata that is set, and only that',
  );

  // The filtered page comes from the server; until it arrives the filter form says the
  // results are updating. What the page showed as the browser left it is kept in the tab's
  // session storage (Playwright itself waits while a navigation is under way).
  await page.evaluate(() => window.addEventListener('pagehide', () => {
    sessionStorage.setItem('left', document.querySelector('[data-testid="updating"]').textContent);
  }));
  await page.getByTestId('catalog-search').fill('time zone');
  await page.getByTestId('catalog-search').press('Enter');
  await page.waitForURL(/[?&]q=time\+zone/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="server-card"]').length === 1);
  assert.deepEqual(
    await cards.evaluateAll((els) => els.map((e) => e.dataset.server)),
    ['productivity/time'],
  );
  assert.equal(
    await page.evaluate(() => sessionStorage.getItem('left')),
    'Updating the results…',
    'the old page said it was updating until the new one arrived',
  );

  await page.getByTestId('catalog-search').fill('nothing-like-this');
  await page.getByTestId('catalog-search').press('Enter');
  await page.getByText('No matching servers').waitFor();

  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('without JavaScript the page is readable and the search form filters on the server', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${apiary.url}/`);
  // Both servers exist from the first test (they share one apiary).
  assert.equal(await page.getByTestId('server-card').count(), 2);
  await page.getByTestId('catalog-search').fill('reference');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/\?q=reference/);
  const servers = await page.getByTestId('server-card').evaluateAll((els) => els.map((e) => e.dataset.server));
  assert.deepEqual(servers, ['platform/everything']);
  await context.close();
});
