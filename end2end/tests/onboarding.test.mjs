// The onboarding journey in a real browser, with the real OpenID provider and npm
// server-everything on the local runtime: a proposer proposes it and cannot approve it, an
// owner of the team approves it, it starts and its tools reach the catalog and the registry
// API, an admin curates one tool away on the curation page, and the audit log shows each step.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { signIn, startSignedInApiary } from '../signin.mjs';
import { cardIds, searchCatalog, waitForCards } from '../steps/console.mjs';
import {
  auditRows, curateAway, decide, everythingEntry, proposeServer, registryTools,
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

  const proposal = await proposeServer(paul, apiary.url, {
    namespace: 'platform',
    name: 'everything',
    description: 'The MCP reference server',
    ownerTeam: 'search',
    category: 'testing',
    spec: { transport: 'stdio', command: 'node', args: [everythingEntry()] },
  });
  assert.equal(proposal.status, 'open');

  const own = await decide(paul, apiary.url, proposal, 'approve', 'mine, looks good');
  assert.equal(own.status, 403, 'the author cannot approve: ' + JSON.stringify(own.body));

  const approved = await decide(olga, apiary.url, proposal, 'approve', 'reviewed the spec');
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.status, 'applied', JSON.stringify(approved.body));

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
