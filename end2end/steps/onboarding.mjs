// Steps of the onboarding journey: proposals and decisions through the console's forms (or a
// signed-in browser context's API requests), curation through the admin's form, and reading
// the registry, the catalog and the audit log.
import { fileURLToPath } from 'node:url';

/** npm server-everything's entry point, installed by `.ci/setup --test`. */
export function everythingEntry() {
  return process.env.APIARY_TEST_EVERYTHING ?? fileURLToPath(new URL(
    '../mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
}

/** Waits until the propose form's YAML preview contains `text`. */
export async function previewShows(page, text, timeout = 10_000) {
  await page.getByTestId('yaml-preview').filter({ hasText: text }).waitFor({ timeout })
    .catch(async (error) => {
      const shown = await page.getByTestId('yaml-preview').textContent();
      throw new Error(`the preview never showed ${JSON.stringify(text)}; it shows:\n${shown}\n${error.message}`);
    });
}

/**
 * Fills `/propose` as the person behind `page` (`fields` maps labels to values; `Transport`
 * is chosen from its list) and submits it; resolves to the new proposal's id from the review
 * page it lands on.
 */
export async function proposeThroughForm(page, baseUrl, fields) {
  await page.goto(`${baseUrl}/propose`);
  for (const [label, value] of Object.entries(fields)) {
    const field = page.getByLabel(label, { exact: true });
    if (label === 'Transport') await field.selectOption(value);
    else await field.fill(value);
  }
  await page.getByRole('button', { name: 'Propose the server' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/reviews/') || url.searchParams.has('error'));
  const url = new URL(page.url());
  if (!url.pathname.startsWith('/reviews/')) {
    throw new Error(`the proposal was refused: ${url.searchParams.get('error_field')}: ${url.searchParams.get('error')}`);
  }
  return url.pathname.slice('/reviews/'.length);
}

/**
 * Approves or rejects proposal `id` with `comment` through its review page's form, as the
 * person behind `page`; resolves to the status the page shows afterwards.
 */
export async function decideThroughForm(page, baseUrl, id, decision, comment) {
  await page.goto(`${baseUrl}/reviews/${id}`);
  const form = page.getByTestId(`${decision}-form`);
  await form.getByLabel('Comment (required)').fill(comment);
  await form.getByRole('button').click();
  await page.waitForURL((url) => url.searchParams.has('decided') || url.searchParams.has('refused'));
  const refused = new URL(page.url()).searchParams.get('refused');
  if (refused) throw new Error(`the decision was refused: ${refused}`);
  return (await page.getByTestId('status').textContent()).trim();
}

/**
 * Decides a proposal (`{ id, version }`) through the JSON API as the person behind `page`;
 * resolves to `{ status, body }`.
 */
export async function decide(page, baseUrl, proposal, decision, comment) {
  const res = await page.request.post(`${baseUrl}/api/v1/proposals/${proposal.id}/decision`, {
    data: { decision, comment, version: proposal.version },
    headers: { origin: baseUrl },
  });
  return { status: res.status(), body: await res.json().catch(() => ({})) };
}

/** The published tool names of `id` in `/v0.1/servers`, once it lists at least `atLeast`. */
export async function registryTools(page, baseUrl, id, { atLeast = 0, timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await page.request.get(`${baseUrl}/v0.1/servers`);
    const list = await res.json();
    const entry = (list.servers ?? []).find((s) => s.server.name === id);
    const tools = (entry?._meta?.['dev.apiary/server']?.tools ?? []).map((t) => t.name);
    if (tools.length >= atLeast && (atLeast > 0 || entry)) return tools;
    if (Date.now() > deadline) throw new Error(`${id} never listed ${atLeast} tools: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Unchecks `tool` on the curation form of `id` and saves; resolves on the saved page. */
export async function curateAway(page, baseUrl, id, tool) {
  await page.goto(`${baseUrl}/servers/${id}/curate`);
  await page.getByLabel(`Show ${tool}`, { exact: true }).uncheck();
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.waitForURL(/draft=1/);
  const preview = await page.getByTestId('preview').locator('code').allTextContents();
  if (preview.includes(tool)) throw new Error(`the preview still lists ${tool}`);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/saved=1/);
}

/** The audit log's rows as `{ action, target }`, newest first. */
export async function auditRows(page, baseUrl) {
  await page.goto(`${baseUrl}/admin/audit`);
  return page.getByTestId('audit-row').evaluateAll((rows) => rows.map((row) => {
    const cells = row.querySelectorAll('td');
    return { actor: cells[1].textContent, action: cells[2].textContent, target: cells[3].textContent };
  }));
}
