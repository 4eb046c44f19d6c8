// A legacy HTTP+SSE MCP client (the TypeScript SDK's SSEClientTransport, protocol 2024-11-05)
// for the gateway tests: connects to URL, lists the tools, calls each tool named on the command
// line with {"text": "<name>"}, and prints one JSON object with what it saw.
//
// Usage: node legacy-sse-client.mjs URL [TOOL...]   (BEARER in the environment adds a token)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

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
const client = new Client({ name: 'apiary-legacy-sse-test', version: '0' });
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
console.log(JSON.stringify({ server: client.getServerVersion(), tools, results }));
await client.close();
