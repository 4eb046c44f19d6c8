// The newcomer's path on the embedded default (local mode, SQLite, the local process runtime,
// no sign-in: one person), in a real browser: the empty catalog leads to the propose form, the
// single admin approves their own proposal with a required comment (a self-approval, in the
// audit log too), the server runs and shows its tools, and a server whose command does not
// exist is explained on its page. axe-core finds no serious or critical violation on the way.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser, startApiary } from '../harness.mjs';
import { seriousViolations } from '../steps/a11y.mjs';
import { testMcpBinary, writeToolsFile } from '../steps/console.mjs';
import { auditRows } from '../steps/onboarding.mjs';

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

async function accessible(page, where) {
  assert.deepEqual(await seriousViolations(page), [], `axe-core on ${where}`);
}

async function hydrated(page) {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

/** Fills the propose form the page is on (`fields` maps labels to values) and submits it. */
async function submitProposal(page, fields) {
  for (const [label, value] of Object.entries(fields)) {
    const field = page.getByLabel(label, { exact: true });
    if (label === 'Transport') await field.selectOption(value);
    else await field.fill(value);
  }
  await page.getByRole('button', { name: 'Propose the server' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/reviews/') || url.searchParams.has('error'));
  const url = new URL(page.url());
  assert.ok(url.pathname.startsWith('/reviews/'), `the proposal was refused: ${url.searchParams.get('error')}`);
  return url.pathname.slice('/reviews/'.length);
}

/** Approves the proposal on its review page with `comment`; resolves to the shown status. */
async function selfApprove(page, comment) {
  const form = page.getByTestId('approve-form');
  await form.getByLabel('Comment (required)').fill(comment);
  await form.getByRole('button', { name: 'Approve and apply' }).click();
  await page.waitForURL((url) => url.searchParams.has('decided') || url.searchParams.has('refused') || url.searchParams.has('error'));
  await page.getByTestId('status').waitFor();
  return (await page.getByTestId('status').textContent()).trim();
}

/** Reloads the server page until its runtime state is `state` (and `also` holds). */
async function runtimeState(page, url, state, also = async () => true) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(url);
    const shown = await page.getByTestId('runtime').getAttribute('data-state');
    if (shown === state && await also()) return;
    if (Date.now() > deadline) {
      throw new Error(`${url} never showed ${state}; it shows ${shown}: ${await page.getByTestId('runtime').innerText()}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('empty catalog, propose, self-approve with a comment, running with tools, a broken server explained', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);

  await page.goto(`${apiary.url}/`);
  await hydrated(page);
  const empty = page.getByTestId('empty-state');
  assert.match(await empty.innerText(), /No servers yet/);
  assert.doesNotMatch(await empty.innerText(), /PUT \/api/, 'no API call on the first screen');
  await accessible(page, 'the empty catalog');
  await empty.getByRole('link', { name: 'Propose a server' }).click();
  await page.waitForURL(`${apiary.url}/propose`);
  await hydrated(page);
  assert.match(await page.getByTestId('review-mode-note').innerText(), /Local mode: you are the only person/);
  await accessible(page, 'the propose form');

  const tools = writeToolsFile([
    { name: 'echo', description: 'Echoes the text back', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
    { name: 'add', description: 'Adds two numbers', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } },
  ]);
  const id = await submitProposal(page, {
    Namespace: 'newcomer',
    Name: 'echo',
    Description: 'Echoes and adds',
    'Owner team': 'me',
    Command: testMcpBinary(),
    Arguments: `--tools\n${tools}`,
    Transport: 'stdio',
  });
  await page.getByTestId('self-approval-note').waitFor();
  assert.equal(await page.getByTestId('cannot-approve').count(), 0);
  await accessible(page, 'the review page');

  await page.goto(`${apiary.url}/reviews`);
  const row = page.getByTestId('review-row').filter({ hasText: 'newcomer/echo' });
  assert.match(await row.innerText(), /yours: approve it yourself \(local mode\)/);

  // The comment is required for a self-approval too.
  await page.goto(`${apiary.url}/reviews/${id}`);
  await hydrated(page);
  assert.equal(await selfApprove(page, ''), 'open');
  await page.getByTestId('error-approve-comment').waitFor();
  assert.equal(await selfApprove(page, 'Trying it out on my machine'), 'applied');
  assert.match(await page.getByTestId('decision').innerText(), /Self-approved in local mode .*Trying it out on my machine/);

  const serverUrl = `${apiary.url}/servers/newcomer/echo`;
  await runtimeState(page, serverUrl, 'running', async () => (await page.getByTestId('tool').count()) === 2);
  assert.deepEqual(
    await page.getByTestId('tool').evaluateAll((els) => els.map((e) => e.dataset.tool).sort()),
    ['add', 'echo'],
  );
  await page.getByTestId('snippets').waitFor();
  await accessible(page, 'a running server page');

  // A server whose command does not exist: its page says it crashed and why.
  await page.goto(`${apiary.url}/propose`);
  await hydrated(page);
  const broken = await submitProposal(page, {
    Namespace: 'newcomer',
    Name: 'broken',
    Description: 'Its command is missing',
    'Owner team': 'me',
    Command: '/nonexistent/apiary-newcomer-server',
    Transport: 'stdio',
  });
  assert.ok(broken);
  await hydrated(page);
  assert.equal(await selfApprove(page, 'See what happens'), 'applied');
  const brokenUrl = `${apiary.url}/servers/newcomer/broken`;
  await runtimeState(page, brokenUrl, 'crashed');
  assert.match(
    await page.getByTestId('runtime-reason').innerText(),
    /cannot start "\/nonexistent\/apiary-newcomer-server": No such file or directory/,
  );
  assert.match(await page.getByTestId('runtime-logs').innerText(), /apiary: cannot start/);
  assert.match(await page.getByTestId('no-snippets').innerText(), /crashed, so the gateway cannot serve it/);
  assert.equal(await page.getByTestId('snippets').count(), 0, 'no snippets for a server that cannot run');
  await page.getByTestId('no-snapshot').waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), /meets the schema contract/);
  await accessible(page, 'a crashed server page');

  // The gateway answers it with a 502 naming the cause.
  const init = await fetch(`${apiary.url}/mcp/newcomer/broken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '0' } } }),
  });
  assert.equal(init.status, 502);
  assert.match((await init.json()).error.message, /No such file or directory/);

  const audit = await auditRows(page, apiary.url);
  assert.equal(audit.filter((r) => r.action === 'proposal.self_approved').length, 2, JSON.stringify(audit));
  await accessible(page, 'the audit log');
  assert.deepEqual(errors, [], 'no console errors');
});
