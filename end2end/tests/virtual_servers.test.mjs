// The virtual servers page in a real browser on the embedded default: the empty state, then a
// virtual server drawn from two published servers with its endpoint, members and tools (each
// with where it comes from), hydrated and with JavaScript off; and a virtual server proposed in
// the console's form (refused lines named, focus on the field), reviewed on its review page (the
// definition beside the current one), approved there, then listed with its client snippets and
// found in the catalog.
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
  assert.match(await section.getByLabel('MCP endpoint of e2e/team', { exact: true }).innerText(), /\/mcp\/e2e\/team$/);
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

test('a virtual server proposed in the console form is reviewed, approved, and found in the catalog', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${apiary.url}/virtual-servers`);
  await page.getByTestId('propose-virtual').click();
  await page.waitForURL(`${apiary.url}/virtual-servers/propose`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  assert.deepEqual(await seriousViolations(page), [], 'axe-core on the propose form');
  const form = page.getByTestId('propose-virtual-form');
  await form.getByLabel('Namespace').fill('e2e');
  await form.getByLabel('Name', { exact: true }).fill('echoes');
  await form.getByLabel('Description').fill('Both echoes');
  await form.getByLabel('Owner team').fill('me');
  // A line that is not a server, and a member that is not published: both refused, by line.
  await form.getByLabel('Members').fill('e2e/alpha echo\nnot-a-server');
  await form.getByRole('button', { name: 'Propose' }).click();
  await page.waitForURL(/\/virtual-servers\/propose\?/);
  await page.locator('body[data-hydrated="true"]').waitFor();
  assert.match(await page.getByTestId('error-summary').innerText(), /Members: line 2: "not-a-server" is not namespace\/name/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'members', 'focus moves to the refused field');
  assert.equal(await form.getByLabel('Namespace').inputValue(), 'e2e', 'the values come back');
  await form.getByLabel('Members').fill('e2e/alpha echo\ne2e/gone');
  await form.getByRole('button', { name: 'Propose' }).click();
  await page.waitForURL(/\/virtual-servers\/propose\?/);
  assert.match(await page.getByTestId('error-members').innerText(), /line 2: .*e2e\/gone/);

  await form.getByLabel('Members').fill('e2e/alpha echo\ne2e/beta echo');
  await form.getByRole('button', { name: 'Propose' }).click();
  await page.waitForURL(/\/reviews\/[^/?]+$/);
  const id = page.url().split('/').pop();
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
  const snippets = await echoes.getByTestId('snippet').evaluateAll((els) => els.map((e) => e.dataset.client));
  assert.deepEqual(snippets, ['VS Code', 'Claude Desktop', 'Cursor', 'LiteLLM']);
  assert.match(await echoes.getByTestId('snippet').first().innerText(), /\/mcp\/e2e\/echoes/);

  // The catalog finds it by its tools' words, beside the servers, and links to it.
  await page.goto(`${apiary.url}/?q=echoes+text`);
  await page.locator('body[data-hydrated="true"]').waitFor();
  const cards = page.getByTestId('virtual-card');
  assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.querySelector('h3').innerText)), ['e2e/echoes', 'e2e/team']);
  assert.match(await cards.first().innerText(), /2 tools from 2 servers/);
  await page.goto(`${apiary.url}/?q=shout`);
  assert.deepEqual(await page.getByTestId('virtual-card').evaluateAll((els) => els.map((e) => e.querySelector('h3').innerText)), ['e2e/team']);
  assert.deepEqual(errors, []);
});
