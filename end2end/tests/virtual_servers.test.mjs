// The virtual servers page in a real browser on the embedded default: the empty state, then a
// virtual server drawn from two published servers with its endpoint, members and tools (each
// with where it comes from), hydrated and with JavaScript off; and a virtual server proposed,
// reviewed on its review page (the definition beside the current one) and approved there.
// axe-core runs on the hydrated pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser, startApiary } from '../harness.mjs';
import { seriousViolations } from '../steps/a11y.mjs';
import { registerToolServer } from '../steps/console.mjs';
import { decideThroughForm } from '../steps/onboarding.mjs';

let apiary;
let browser;

const schema = { type: 'object', properties: { text: { type: 'string' } } };
const echo = { name: 'echo', description: 'Echoes the text back', inputSchema: schema };
const add = { name: 'add', description: 'Adds two numbers', inputSchema: schema };
const upper = { name: 'upper', description: 'Upper-cases the text', inputSchema: schema };

before(async () => {
  apiary = await startApiary();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

async function toolRows(page) {
  return page.getByTestId('virtual-tool').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.innerText.trim())));
}

test('the page shows each virtual server with its endpoint, members and tools', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${apiary.url}/virtual-servers`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  assert.match(await page.getByTestId('empty-state').innerText(), /No virtual servers yet/);

  await registerToolServer(apiary.url, 'e2e', 'alpha', { description: 'Alpha', ownerTeam: 'me' }, [echo, add]);
  await registerToolServer(apiary.url, 'e2e', 'beta', { description: 'Beta', ownerTeam: 'me' }, [echo, upper]);
  const saved = await fetch(`${apiary.url}/api/v1/virtual-servers/e2e/team`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      description: 'The team tools in one place',
      ownerTeam: 'me',
      members: [
        { server: 'e2e/alpha' },
        { server: 'e2e/beta', allow: ['upper'], overrides: { upper: { name: 'shout' } } },
      ],
    }),
  });
  assert.equal(saved.status, 201, await saved.text());

  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  const section = page.getByTestId('virtual-server');
  assert.equal(await section.count(), 1);
  assert.equal(await section.getByRole('heading', { level: 2 }).innerText(), 'e2e/team');
  assert.equal(await page.getByTestId('virtual-members').innerText(), 'e2e/alpha, e2e/beta');
  assert.match(await section.locator('pre').innerText(), /\/mcp\/e2e\/team$/);
  assert.deepEqual(await toolRows(page), [
    ['alpha_echo', 'Echoes the text back', 'e2e/alpha (echo)'],
    ['alpha_add', 'Adds two numbers', 'e2e/alpha (add)'],
    ['shout', 'Upper-cases the text', 'e2e/beta (upper)'],
  ]);
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Virtual servers' });
  assert.equal(await link.getAttribute('aria-current'), 'page');
  assert.deepEqual(await seriousViolations(page), [], 'axe-core on the virtual servers page');
  assert.deepEqual(errors, []);

  const context = await browser.newContext({ javaScriptEnabled: false });
  const plain = await context.newPage();
  await plain.goto(`${apiary.url}/virtual-servers`);
  assert.deepEqual(await toolRows(plain), await toolRows(page), 'the same without JavaScript');
  await context.close();
});

test('a proposed virtual server is reviewed and approved on its review page, then listed', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  const proposed = await fetch(`${apiary.url}/api/v1/virtual-servers/e2e/echoes/proposals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ description: 'Both echoes', ownerTeam: 'me', members: [{ server: 'e2e/alpha', allow: ['echo'] }, { server: 'e2e/beta', allow: ['echo'] }] }),
  });
  const answer = await proposed.text();
  assert.equal(proposed.status, 201, answer);
  const { id, kind } = JSON.parse(answer);
  assert.equal(kind, 'virtual');

  await page.goto(`${apiary.url}/reviews/${id}`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'virtual e2e/echoes');
  const diff = page.getByRole('table', { name: /approved virtual server definition and the proposed one/ });
  await diff.getByRole('columnheader', { name: 'Current (none: a new virtual server)' }).waitFor();
  assert.match(await diff.innerText(), /"server": "e2e\/beta"/);
  assert.deepEqual(await seriousViolations(page), [], 'axe-core on the review page');

  assert.equal(await decideThroughForm(page, apiary.url, id, 'approve', 'two echoes are fine'), 'applied');
  await page.goto(`${apiary.url}/virtual-servers`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  const ids = await page.getByTestId('virtual-server').evaluateAll((els) => els.map((e) => e.querySelector('h2').innerText));
  assert.deepEqual(ids, ['e2e/echoes', 'e2e/team']);
  const echoes = page.getByTestId('virtual-server').first();
  assert.deepEqual(
    await echoes.getByTestId('virtual-tool').evaluateAll((rows) => rows.map((r) => r.querySelector('td').innerText)),
    ['alpha_echo', 'beta_echo'],
  );
  assert.deepEqual(errors, []);
});
