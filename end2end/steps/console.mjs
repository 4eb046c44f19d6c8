// Reusable browser steps for the console: seeding servers through the API, and what a person
// does on the catalog and server pages. Each step is one small function so other tests (such
// as a signed-in run) can compose them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { registerServer } from '../harness.mjs';

const repo = resolve(import.meta.dirname, '..', '..');

/** The `apiary-testmcp` binary beside the apiary under test (cargo builds both). */
export function testMcpBinary() {
  const apiary = process.env.APIARY_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, 'target'), 'debug', 'apiary');
  return join(dirname(apiary), 'apiary-testmcp');
}

/** Writes MCP tool objects to a fresh file for `apiary-testmcp --tools`. */
export function writeToolsFile(tools) {
  const path = join(mkdtempSync(join(tmpdir(), 'apiary-e2e-tools-')), 'tools.json');
  writeFileSync(path, JSON.stringify(tools));
  return path;
}

/**
 * Registers a published stdio server that runs `apiary-testmcp` with `tools`, then fetches them.
 * With sign-in on, pass `request`: a Playwright request context signed in as an admin.
 */
export async function registerToolServer(baseUrl, namespace, name, metadata, tools, { request } = {}) {
  const body = {
    ...metadata,
    spec: { transport: 'stdio', command: testMcpBinary(), args: ['--tools', writeToolsFile(tools)] },
    published: true,
  };
  const refreshUrl = `${baseUrl}/api/v1/servers/${namespace}/${name}/refresh`;
  let status;
  let outcome;
  if (request) {
    const put = await request.put(`${baseUrl}/api/v1/servers/${namespace}/${name}`, { data: body });
    if (!put.ok()) throw new Error(`registering ${namespace}/${name}: ${put.status()} ${await put.text()}`);
    const res = await request.post(refreshUrl);
    [status, outcome] = [res.status(), await res.text()];
  } else {
    await registerServer(baseUrl, namespace, name, body);
    const res = await fetch(refreshUrl, { method: 'POST' });
    [status, outcome] = [res.status, await res.text()];
  }
  if (status >= 300 || !/fetched|baseline/i.test(outcome)) {
    throw new Error(`fetching the tools of ${namespace}/${name}: ${status} ${outcome}`);
  }
}

/** Waits until the page's islands are hydrated (a new page after each navigation). */
export async function waitForHydration(page) {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

/** Opens the catalog and, when JavaScript runs, waits for hydration. */
export async function openCatalog(page, baseUrl, { hydrated = true } = {}) {
  await page.goto(`${baseUrl}/`);
  if (hydrated) await waitForHydration(page);
}

/** The `namespace/name` of every card on the page, in order. */
export function cardIds(page) {
  return page.getByTestId('server-card').evaluateAll((els) => els.map((e) => e.dataset.server));
}

/** Types `text` into the search box and submits it with Enter. */
export async function searchCatalog(page, text) {
  const box = page.getByTestId('catalog-search');
  await box.fill(text);
  await box.press('Enter');
}

/** Chooses `value` in the facet select labelled `label` (a hydrated filter form submits on change). */
export async function chooseFacet(page, label, value) {
  await page.getByLabel(label, { exact: true }).selectOption(value);
}

/** Presses the filter form's submit button (what a person without JavaScript does). */
export async function applyFilters(page) {
  await page.getByRole('button', { name: 'Apply filters' }).click();
}

/** Waits until the cards on the page are exactly `ids`. */
export async function waitForCards(page, ids) {
  await page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('[data-testid="server-card"]')].map((e) => e.dataset.server)) === JSON.stringify(want),
    ids,
  );
}

/** Follows the card link of `id` to its server page. */
export async function openServerFromCatalog(page, id) {
  await page.locator(`[data-testid="server-card"][data-server="${id}"] h2 a`).click();
  await page.getByTestId('server-title').filter({ hasText: id }).waitFor();
}

/** The argument rows of `tool` on a server page: `{ property, type, required, allowed }`. */
export function schemaRows(page, tool) {
  return page.locator(`[data-testid="tool"][data-tool="${tool}"] [data-testid="schema-row"]`).evaluateAll((rows) =>
    rows.map((row) => {
      const cells = [...row.querySelectorAll('td')].map((td) => td.innerText.trim());
      return { property: row.dataset.property, type: cells[0], required: cells[1], allowed: cells[2] };
    }));
}

/** True when the page scrolls sideways (content wider than the viewport). */
export function scrollsSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}
