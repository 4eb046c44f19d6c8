// The propose form's live YAML preview in a hydrated browser, as a signed-in proposer of the
// real OpenID provider: typing in the fields and choosing a transport updates the MCPServer
// preview in place, without a post or a reload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, launchBrowser } from '../harness.mjs';
import { signIn, startSignedInApiary } from '../signin.mjs';
import { previewShows } from '../steps/onboarding.mjs';

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

test('typing in the propose form updates the YAML preview', async () => {
  const page = await (await browser.newContext()).newPage();
  const errors = collectErrors(page);
  await signIn(page, apiary.url, 'paul', '/propose');
  await page.locator('body[data-hydrated="true"]').waitFor();
  const preview = page.getByTestId('yaml-preview');
  assert.ok(!(await preview.textContent()).includes('live-typed'), 'nothing typed yet');

  await page.getByLabel('Namespace', { exact: true }).fill('tools');
  await page.getByLabel('Name', { exact: true }).pressSequentially('live-typed');
  await previewShows(page, 'name: live-typed');
  await previewShows(page, 'namespace: tools');

  await page.getByLabel('Source', { exact: true }).fill('npx://@modelcontextprotocol/server-everything');
  await previewShows(page, 'image: npx://@modelcontextprotocol/server-everything');

  await page.getByLabel('Transport', { exact: true }).selectOption('streamable-http');
  await previewShows(page, 'transport: streamable-http');

  await page.getByLabel('Description', { exact: true }).fill('Typed live');
  await previewShows(page, 'apiary.dev/description: Typed live');

  await page.getByLabel('Environment', { exact: true }).fill('API_TOKEN=secret:search-keys/token');
  await previewShows(page, 'targetEnvName: API_TOKEN');

  // A line the form cannot turn into a spec says so in the preview, next to nothing else.
  await page.getByLabel('Environment', { exact: true }).fill('NOEQUALS');
  await previewShows(page, '# env: line 1 is not NAME=value');

  assert.equal(new URL(page.url()).pathname, '/propose', 'still on the form');
  assert.equal(new URL(page.url()).search, '', 'nothing was posted');
  assert.deepEqual(errors, [], 'no console errors');
});
