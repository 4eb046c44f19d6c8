// A legacy HTTP+SSE MCP client (the TypeScript SDK's SSEClientTransport, protocol 2024-11-05)
// for the gateway tests: connects to URL, lists the tools, calls each tool named on the command
// line with {"text": "<name>"}, and prints one JSON object with what it saw.
//
// Usage: node legacy-sse-client.mjs URL [TOOL...]   (BEARER in the environment adds a token;
// ROOTS=uri declares the roots capability, answers roots/list with that root, and waits up to
// 10 s after the calls for a roots/list to answer; `rootsAsked` counts those answered)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const [url, ...calls] = process.argv.slice(2);
if (!url) {
  console.error('usage: node legacy-sse-client.mjs URL [TOOL...]');
  process.exit(2);
}
const headers = process.env.BEARER ? { Authorization: `Bearer ${process.env.BEARER}` } : {};
const transport = new SSEClientTransport(new URL(url), {
  requestInit: { headers },
  eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }) },
});
const roots = process.env.ROOTS;
const client = new Client(
  { name: 'apiary-legacy-sse-test', version: '0' },
  { capabilities: roots ? { roots: {} } : {} },
);
let rootsAsked = 0;
let asked;
const wasAsked = new Promise((resolve) => { asked = resolve; });
if (roots) {
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    rootsAsked += 1;
    asked();
    return { roots: [{ uri: roots }] };
  });
}
await client.connect(transport);
const tools = (await client.listTools()).tools.map((tool) => tool.name);
const results = {};
for (const name of calls) {
  try {
    const result = await client.callTool({ name, arguments: { text: name } });
    results[name] = { ok: !result.isError, text: JSON.stringify(result.content) };
  } catch (error) {
    results[name] = { ok: false, error: String(error.message ?? error) };
  }
}
if (roots) {
  await Promise.race([wasAsked, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  // Let the answer's POST reach the server before the session closes.
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(JSON.stringify({ server: client.getServerVersion(), tools, results, rootsAsked }));
await client.close();
