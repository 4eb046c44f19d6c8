// Refreshing tools from the console and forms that report every refused field, in a real
// browser on the embedded default (local mode: the single admin may do everything). The
// server page's Refresh tools button shows that the fetch runs (a busy live region) and then
// what it found, with JavaScript and without; the admin's fleet refresh shows n of m done and
// lists the failures; a propose form with several bad fields shows each message next to its
// field, a summary that links to them, and focus on the first. axe-core runs on each page
// with JavaScript (it cannot be evaluated in a page without it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { collectErrors, launchBrowser, registerServer, startApiary } from '../harness.mjs';
import { seriousViolations } from '../steps/a11y.mjs';
import { testMcpBinary, writeToolsFile } from '../steps/console.mjs';

let apiary;
let browser;

const echo = { name: 'echo', description: 'Echoes the text back', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } };
const add = { name: 'add', description: 'Adds two numbers', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } };
const upper = { name: 'upper', description: 'Upper-cases the text', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } };

let toolsFile;

before(async () => {
  apiary = await startApiary();
  browser = await launchBrowser();
  // Every tools/list of this server takes 1.5 s, so the refresh is visibly in progress.
  toolsFile = writeToolsFile([echo, add]);
  await registerServer(apiary.url, 'e2e', 'slow', {
    description: 'A slow server', ownerTeam: 'me', published: true,
    spec: { transport: 'stdio', command: testMcpBinary(), args: ['--tools', toolsFile, '--delay-ms', '1500'] },
  });
  const first = await fetch(`${apiary.url}/api/v1/servers/e2e/slow/refresh`, { method: 'POST' });
  assert.equal(first.status, 200, await first.text());
  // A closed loopback port: its fetch fails fast.
  await registerServer(apiary.url, 'e2e', 'closed', {
    description: 'Nothing listens', ownerTeam: 'me', published: true,
    spec: { transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' },
  });
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

async function accessible(page, where) {
  assert.deepEqual(await seriousViolations(page), [], `axe-core on ${where}`);
}

async function hydrated(page) {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

test('Refresh tools shows progress while the fetch runs, then what it found', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  // The server gained a tool since the approved baseline: the refresh finds drift.
  writeFileSync(toolsFile, JSON.stringify([echo, add, upper]));
  await page.goto(`${apiary.url}/servers/e2e/slow`);
  await hydrated(page);
  await accessible(page, 'the server page');
  const status = page.getByTestId('refresh-status');
  assert.equal(await status.getAttribute('role'), 'status');
  assert.equal(await status.getAttribute('aria-busy'), 'false');

  const button = page.getByRole('button', { name: 'Refresh tools' });
  await button.click();
  await page.getByTestId('refresh-progress').waitFor();
  assert.equal(await status.getAttribute('aria-busy'), 'true', 'busy while the fetch runs');
  assert.ok(await page.getByTestId('refresh-tools').isDisabled(), 'one refresh at a time');
  assert.match(await page.getByTestId('refresh-tools').innerText(), /Refreshing tools…/);
  await accessible(page, 'the server page while refreshing');

  const outcome = page.getByTestId('refresh-outcome');
  await outcome.waitFor({ timeout: 20_000 });
  assert.equal(await status.getAttribute('aria-busy'), 'false');
  assert.equal(await outcome.getAttribute('data-outcome'), 'fetched');
  assert.match(await outcome.innerText(), /^Found 3 tools in \d+ ms, drift detected/);
  assert.match(await outcome.innerText(), /(no policy findings|\d policy findings?)\.$/);
  await accessible(page, 'the server page after the refresh');

  // The recorded drift is on the page once it is reloaded.
  await page.getByRole('link', { name: 'Reload the page' }).click();
  await page.getByTestId('drift-review').waitFor();

  // A fetch that fails says why.
  await page.goto(`${apiary.url}/servers/e2e/closed`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Refresh tools' }).click();
  await outcome.waitFor();
  assert.equal(await outcome.getAttribute('data-outcome'), 'failed');
  assert.match(await outcome.innerText(), /^The fetch failed: .+/);
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('without JavaScript, Refresh tools posts and the page comes back with the outcome', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  writeFileSync(toolsFile, JSON.stringify([echo]));
  await page.goto(`${apiary.url}/servers/e2e/slow`);
  await page.getByRole('button', { name: 'Refresh tools' }).click();
  await page.waitForURL((url) => url.searchParams.get('refresh') === 'fetched', { timeout: 20_000 });
  const outcome = page.getByTestId('refresh-outcome');
  assert.match(await outcome.innerText(), /^Found 1 tool in \d+ ms/);
  await context.close();
});

test('a refresh refused after a post without JavaScript is shown, and the page stays live', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  const serverPage = `${apiary.url}/servers/e2e/slow`;
  await page.goto(serverPage);
  await hydrated(page);
  const action = await page.getByRole('form', { name: 'Refresh tools' }).getAttribute('action');
  // What a browser without JavaScript posts, here for a server that does not exist: the server
  // function answers with a redirect back, the error in the query.
  const posted = await fetch(new URL(action, apiary.url), {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      origin: apiary.url,
      referer: serverPage,
    },
    body: new URLSearchParams({ namespace: 'e2e', name: 'nowhere' }),
  });
  const back = posted.headers.get('location');
  assert.match(back ?? '', /__err=/, `redirected back with the error (${posted.status})`);

  await page.goto(new URL(back, apiary.url).href);
  await hydrated(page);
  const outcome = page.getByTestId('refresh-outcome');
  assert.equal(await outcome.getAttribute('data-outcome'), 'error');
  assert.match(await outcome.innerText(), /^The refresh could not run: .*no server e2e\/nowhere/);
  // The page hydrated as rendered: its islands work.
  writeFileSync(toolsFile, JSON.stringify([echo]));
  await page.getByRole('button', { name: 'Refresh tools' }).click();
  await outcome.filter({ hasText: /^Found 1 tool/ }).waitFor({ timeout: 20_000 });
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('the fleet refresh shows n of m done and lists the failures', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${apiary.url}/admin/refresh`);
  await hydrated(page);
  assert.match(await page.getByTestId('fleet-summary').innerText(), /No fleet refresh has run/);
  await accessible(page, 'the fleet refresh page');
  const status = page.getByTestId('fleet-status');
  assert.equal(await status.getAttribute('role'), 'status');

  await page.getByRole('button', { name: 'Refresh all servers' }).click();
  // The slow server takes 1.5 s: the page shows the refresh under way, polled.
  await page.getByTestId('fleet-summary').filter({ hasText: /^Refreshing: \d of 2 done/ }).waitFor();
  assert.equal(await status.getAttribute('aria-busy'), 'true');
  assert.equal(await page.locator('progress').getAttribute('max'), '2');
  await accessible(page, 'the fleet refresh page while it runs');

  await page.getByTestId('fleet-summary').filter({ hasText: /^Finished / }).waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId('fleet-summary').innerText(), /1 of 2 fetched, 1 failed/);
  assert.equal(await status.getAttribute('aria-busy'), 'false');
  const failures = page.getByTestId('fleet-failures');
  assert.match(await failures.innerText(), /^e2e\/closed: .+/);
  assert.equal(await failures.getByRole('link', { name: 'e2e/closed' }).getAttribute('href'), '/servers/e2e/closed');
  await accessible(page, 'the fleet refresh page when done');
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

/** Fills the propose form with four bad fields among good ones and submits it. */
async function submitBadProposal(page) {
  const fields = {
    Namespace: 'Bad_Namespace',
    Name: 'many-problems',
    Description: 'Has four problems',
    'Owner team': 'Search Team',
    'Docs URL': 'not a link',
    Command: testMcpBinary(),
    Port: 'eighty',
  };
  for (const [label, value] of Object.entries(fields)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await page.getByLabel('Transport', { exact: true }).selectOption('stdio');
  await page.getByRole('button', { name: 'Propose the server' }).click();
  await page.waitForURL((url) => url.searchParams.has('error'));
}

test('a form with several bad fields shows every message next to its field, and focus moves to the first', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${apiary.url}/propose`);
  await hydrated(page);
  await submitBadProposal(page);
  await hydrated(page);

  const summary = page.getByTestId('error-summary');
  assert.equal(await summary.getAttribute('role'), 'alert');
  assert.match(await summary.innerText(), /4 problems to fix/);
  const links = await summary.getByRole('link').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
  assert.deepEqual(links, ['#namespace', '#owner_team', '#docs_url', '#port'], 'in form order');
  for (const field of ['namespace', 'owner_team', 'docs_url', 'port']) {
    const input = page.locator(`#${field}`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true', field);
    assert.match(await input.getAttribute('aria-describedby'), new RegExp(`${field}-error`));
    assert.ok((await page.locator(`#${field}-error`).innerText()).length > 0, `${field} has its message`);
  }
  assert.equal(await page.locator('#name').getAttribute('aria-invalid'), null, 'good fields are not marked');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'namespace', 'focus on the first invalid field');
  assert.equal(await page.locator('#port').inputValue(), 'eighty', 'values are kept');
  await accessible(page, 'the refused propose form');

  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('without JavaScript, the refused form lists every field with links to them', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(`${apiary.url}/propose`);
  await submitBadProposal(page);
  const summary = page.getByTestId('error-summary');
  assert.equal(await summary.getByRole('link').count(), 4);
  for (const field of ['namespace', 'owner_team', 'docs_url', 'port']) {
    await page.locator(`#${field}-error`).waitFor();
  }
  await context.close();
});

test('each health badge says why it reads so, on hover and on the server page', async () => {
  const page = await browser.newPage();
  // Every tools/list of e2e/slow takes 1.5 s, over the 1 s threshold; e2e/closed cannot be reached.
  for (const name of ['slow', 'closed']) {
    await fetch(`${apiary.url}/api/v1/servers/e2e/${name}/refresh`, { method: 'POST' });
  }
  await page.goto(`${apiary.url}/servers/e2e/slow`);
  const reason = await page.getByTestId('health-reason').innerText();
  assert.match(reason, /^Slow: the newest tool fetch took 1\d{3} ms; no tool calls through the gateway in the last 15 minutes \(slow above 1000 ms\)$/);
  assert.equal(await page.getByTestId('health-badge').getAttribute('title'), reason, 'the badge says the same on hover');
  // The start-up the first fetch waited for is shown apart from the fetch's latency.
  assert.match(await page.getByTestId('overview').innerText(), /Start-up\s+\d+ ms \(the last time a fetch waited for it\)/);

  await page.goto(`${apiary.url}/`);
  const closed = page.locator('[data-server="e2e/closed"]').getByTestId('health-badge');
  assert.match(await closed.innerText(), /failing/);
  assert.match(await closed.getAttribute('title'), /^Failing: the newest tool fetch failed; /);
  await page.close();
});

test('the copy button says whether the browser copied, and the header marks the current page', async () => {
  // A browser that refuses the clipboard: the button must not claim that it copied.
  const refusing = await browser.newContext();
  await refusing.addInitScript(() => {
    Object.defineProperty(navigator, 'clipboard', {
      value: { writeText: () => Promise.reject(new DOMException('refused', 'NotAllowedError')) },
    });
  });
  let page = await refusing.newPage();
  await page.goto(`${apiary.url}/servers/e2e/slow`);
  await hydrated(page);
  let snippet = page.getByTestId('snippet').first();
  await snippet.getByRole('button', { name: /^Copy the / }).click();
  await snippet.getByRole('status').filter({ hasText: /\S/ }).waitFor();
  assert.match(await snippet.getByRole('status').innerText(), /^The browser did not allow copying: select the text and copy it yourself\.$/);
  await refusing.close();

  // A browser that copies: the button says so, and the clipboard holds the snippet.
  const copying = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  page = await copying.newPage();
  await page.goto(`${apiary.url}/servers/e2e/slow`);
  await hydrated(page);
  snippet = page.getByTestId('snippet').first();
  await snippet.getByRole('button', { name: /^Copy the / }).click();
  await snippet.getByRole('status').filter({ hasText: /\S/ }).waitFor();
  assert.equal(await snippet.getByRole('status').innerText(), 'Copied to the clipboard.');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await snippet.locator('pre').innerText());

  // The header marks where the person is.
  const current = () => page.getByRole('navigation', { name: 'Main' }).locator('[aria-current="page"]').allTextContents();
  assert.deepEqual(await current(), ['Catalog'], 'a server page belongs to the catalog');
  await page.goto(`${apiary.url}/reviews`);
  assert.deepEqual(await current(), ['Reviews']);
  await copying.close();
});
