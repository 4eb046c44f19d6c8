#!/usr/bin/env node
// Starts the test OIDC provider N times in a row, the way the harnesses do, and counts the
// starts that stalled (printed nothing within the limit). Evidence for the choice of Node.
//
//   node end2end/oidc/starts.mjs [N=500] [--node PATH] [--silence-ms MS=10000]
//
// Each start must print its issuer and answer its discovery document; the provider is then
// stopped. Exits 1 if any start stalled or failed.
import process from 'node:process';
import { PROVIDER_NODE, startOidcProvider } from '../oidc.mjs';

const argv = process.argv.slice(2);
let count = 500;
let node = PROVIDER_NODE;
let silenceMs = 10_000;
for (let i = 0; i < argv.length; i += 1) {
  if (argv[i] === '--node') node = argv[++i];
  else if (argv[i] === '--silence-ms') silenceMs = Number(argv[++i]);
  else count = Number(argv[i]);
}
if (!Number.isInteger(count) || count < 1) throw new Error('N must be a positive integer');

const version = await new Promise((resolve) => {
  import('node:child_process').then(({ execFile }) => execFile(node, ['--version'], (_, out) => resolve(out.trim())));
});
let stalled = 0;
let failed = 0;
const times = [];
for (let i = 1; i <= count; i += 1) {
  const started = performance.now();
  try {
    // One attempt: a stall is what this script counts, so nothing is retried.
    const oidc = await startOidcProvider({ redirectUris: ['http://127.0.0.1:1/cb'], node, silenceMs, attempts: 1, stderr: 'ignore' });
    const res = await fetch(`${oidc.issuer}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    times.push(performance.now() - started);
    await oidc.stop();
  } catch (err) {
    if (/did not start within/.test(String(err.message))) stalled += 1;
    else failed += 1;
    console.log(`start ${i}: ${err.message}`);
  }
}
times.sort((a, b) => a - b);
const median = times.length ? times[Math.floor(times.length / 2)] : NaN;
const max = times.length ? times[times.length - 1] : NaN;
console.log(`node ${version}: ${count} starts, ${stalled} stalled, ${failed} failed; `
  + `ready in median ${median.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
process.exit(stalled + failed === 0 ? 0 : 1);
