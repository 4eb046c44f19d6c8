// The onboarding journey in a real browser, with the real OpenID provider and npm
// server-everything on the local runtime: a proposer proposes it on /propose and cannot
// approve it (no approve form, and the API refuses), an owner of the team approves it on its
// review page, it starts and its tools reach the catalog and the registry
// API, an admin curates one tool away on the curation page, and the audit log shows each step.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { signIn, startSignedInApiary } from '../signin.mjs';
import { cardIds, searchCatalog, waitForCards } from '../steps/console.mjs';
import {
  auditRows, curateAway, decide, decideThroughForm, everythingEntry, proposeThroughForm,
  registryTools,
} from '../steps/onboarding.mjs';

let apiary;
let browser;

before(async () => {
  apiary = await startSignedInApiary();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await apiary?.stop();
});

async function personPage(user) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, apiary.url, user);
  return page;
}

test('propose, four-eyes approval, publish, curate and audit', async () => {
  const paul = await personPage('paul');
  const olga = await personPage('olga');
  const adam = await personPage('adam');
  const errors = collectErrors(adam);

  const id = await proposeThroughForm(paul, apiary.url, {
    Namespace: 'platform',
    Name: 'everything',
    Description: 'The MCP reference server',
    'Owner team': 'search',
    Category: 'testing',
    Command: 'node',
    Arguments: everythingEntry(),
    Transport: 'stdio',
  });
  assert.equal((await paul.getByTestId('status').textContent()).trim(), 'open');
  await paul.getByTestId('cannot-approve').waitFor();
  assert.equal(await paul.getByTestId('approve-form').count(), 0, 'the author gets no approve form');
  // A new proposal is at version 1; posting past the missing form is refused too.
  const own = await decide(paul, apiary.url, { id, version: 1 }, 'approve', 'mine, looks good');
  assert.equal(own.status, 403, 'the author cannot approve: ' + JSON.stringify(own.body));

  // The owner reads the proposed manifest beside the (missing) approved one: all added.
  await olga.goto(`${apiary.url}/reviews/${id}`);
  const diff = olga.getByRole('table', { name: /approved MCPServer manifest and the proposed one/ });
  await diff.getByRole('columnheader', { name: 'Approved (none: a new server)' }).waitFor();
  await diff.getByRole('columnheader', { name: 'Proposed', exact: true }).waitFor();
  await diff.getByRole('cell', { name: 'added: command: node' }).waitFor();

  const status = await decideThroughForm(olga, apiary.url, id, 'approve', 'reviewed the spec');
  assert.equal(status, 'applied');

  const tools = await registryTools(adam, apiary.url, 'platform/everything', { atLeast: 5 });
  assert.ok(tools.includes('echo') && tools.includes('get-sum'), tools.join(', '));

  await adam.goto(`${apiary.url}/`);
  await adam.locator('body[data-hydrated="true"]').waitFor();
  await searchCatalog(adam, 'get-sum');
  await waitForCards(adam, ['platform/everything']);

  await curateAway(adam, apiary.url, 'platform/everything', 'get-sum');
  const after = await registryTools(adam, apiary.url, 'platform/everything', { atLeast: 1 });
  assert.ok(!after.includes('get-sum') && after.includes('echo'), after.join(', '));
  await adam.goto(`${apiary.url}/?q=get-sum`);
  assert.deepEqual(await cardIds(adam), [], 'the catalog no longer finds it by the hidden tool');

  const rows = await auditRows(adam, apiary.url);
  const actions = rows.map((r) => r.action);
  for (const action of ['proposal.proposed', 'proposal.approved', 'proposal.applied', 'server.register', 'server.curate']) {
    assert.ok(actions.includes(action), `${action} is in the audit log: ${actions.join(', ')}`);
  }
  assert.ok(rows.some((r) => r.action === 'server.curate' && r.target === 'platform/everything'));
  assert.deepEqual(errors, [], 'no console errors');
});
