// Steps of the onboarding journey: proposals and decisions through a signed-in browser
// context's requests (its session cookie), curation through the admin's form, and reading the
// registry, the catalog and the audit log.
import { fileURLToPath } from 'node:url';

/** npm server-everything's entry point, installed by `.ci/setup --test`. */
export function everythingEntry() {
  return process.env.APIARY_TEST_EVERYTHING ?? fileURLToPath(new URL(
    '../mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
}

/** Proposes a new server as the person behind `page`; resolves to the proposal (JSON). */
export async function proposeServer(page, baseUrl, proposal) {
  const res = await page.request.post(`${baseUrl}/api/v1/proposals`, {
    data: { kind: 'create', ...proposal },
    headers: { origin: baseUrl },
  });
  if (res.status() !== 201) throw new Error(`proposing: ${res.status()} ${await res.text()}`);
  return res.json();
}

/** Decides a proposal as the person behind `page`; resolves to `{ status, body }`. */
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
