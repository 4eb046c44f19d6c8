#!/usr/bin/env node
// A real OpenID Connect provider (panva's oidc-provider) for Apiary's sign-in tests.
//
//   node provider.mjs [--port N] [--redirect-uri URL]... [--post-logout-redirect-uri URL]...
//                     [--id-token-ttl SECONDS] [--access-token-ttl SECONDS]
//                     [--token-delay-ms MS] [--backchannel-logout-uri URL] [--opaque-subjects]
//                     [--exit-on-stdin-close]
//
// Listens on 127.0.0.1 over plain http; once ready it prints one JSON line to stdout,
// {"issuer":"http://127.0.0.1:PORT","adminToken":"…"}, and nothing else there. SIGTERM/SIGINT stop it; with
// --exit-on-stdin-close it also stops when its parent closes (or loses) the stdin pipe, so a
// crashed test run leaves no provider behind.
//
// Clients `apiary` and `other-app` (client_secret_basic, authorization code with PKCE S256),
// machine clients `robot`, `robot-nobody`, `robot-search` and `robot-admin` (client credentials; JWT access
// tokens for the `resource` they ask for, with the client's groups), and the test users below. Signing keys and cookie keys are fresh on every start.
//
// Like Keycloak, `apiary` gets a refresh token with every code exchange (no `offline_access`
// needed), and sign-out asks "Do you want to sign out?" unless the request carries a valid
// `id_token_hint`. With --backchannel-logout-uri, ending a provider session POSTs a
// `logout_token` (with `sid`) there for `apiary`. With --opaque-subjects, `sub` is a random id
// per user and start, as Keycloak's user ids are, instead of the username.
//
// Test-only administration, with the `adminToken` of the ready line as a bearer token:
//   PUT /test-admin/users/USERNAME  {"groups": [...], "disabled": true|false}  (either field)
// changes a user's groups or disables them (a disabled user's refresh tokens stop working).

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

// stdout carries only the ready line: oidc-provider's notices (console.info) go to stderr.
console.info = console.error;
console.log = console.error;
/** Stops the process; replaced by a graceful close once the server listens. */
let stop = () => process.exit(0);
process.on('SIGTERM', () => stop());
process.on('SIGINT', () => stop());
const opts = parseArgs(process.argv.slice(2));
const { default: Provider, errors } = await import('oidc-provider');
/** The bearer token of the test-only admin endpoint. */
const adminToken = randomBytes(24).toString('base64url');

/** The test users: id (= username = `sub`), password, display name and groups. */
const USERS = [
  { username: 'carol', password: 'carol-pw', name: 'Carol Consumer', groups: ['apiary-consumers'] },
  { username: 'paul', password: 'paul-pw', name: 'Paul Proposer', groups: ['apiary-proposers', 'team-search'] },
  { username: 'olga', password: 'olga-pw', name: 'Olga Owner', groups: ['apiary-owners', 'team-search'] },
  { username: 'otto', password: 'otto-pw', name: 'Otto Owner', groups: ['apiary-owners', 'team-data'] },
  { username: 'adam', password: 'adam-pw', name: 'Adam Admin', groups: ['apiary-admins'] },
  { username: 'nora', password: 'nora-pw', name: 'Nora Nobody', groups: [] },
];
for (const user of USERS) {
  user.sub = opts.opaqueSubjects ? randomUUID() : user.username;
  user.disabled = false;
}

/** The registered clients: id and secret; both share the redirect URIs from the command line. */
const CLIENTS = [
  { id: 'apiary', secret: 'apiary-test-secret' },
  { id: 'other-app', secret: 'other-app-secret' },
];

/** Machine clients (client credentials grant) and the groups their access tokens carry. */
const MACHINES = [
  { id: 'robot', secret: 'robot-secret', groups: ['apiary-consumers'] },
  { id: 'robot-nobody', secret: 'robot-nobody-secret', groups: [] },
  { id: 'robot-search', secret: 'robot-search-secret', groups: ['apiary-consumers', 'team-search'] },
  { id: 'robot-admin', secret: 'robot-admin-secret', groups: ['apiary-admins'] },
];

/** Parses the command line; exits with a usage message on anything unknown. */
function parseArgs(argv) {
  const opts = { port: 0, redirectUris: [], postLogoutRedirectUris: [], idTokenTtl: 3600, accessTokenTtl: 3600, tokenDelayMs: 0, exitOnStdinClose: false, backchannelLogoutUri: undefined, opaqueSubjects: false };
  const usage = (why) => {
    process.stderr.write(`provider.mjs: ${why}\n`
      + 'usage: provider.mjs [--port N] [--redirect-uri URL]... [--post-logout-redirect-uri URL]... '
      + '[--id-token-ttl SECONDS] [--access-token-ttl SECONDS] [--token-delay-ms MS] '
      + '[--backchannel-logout-uri URL] [--opaque-subjects] [--exit-on-stdin-close]\n');
    process.exit(2);
  };
  const number = (flag, value) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) usage(`${flag} needs a whole number`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      i += 1;
      if (argv[i] === undefined) usage(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case '--port': opts.port = number(flag, value()); break;
      case '--redirect-uri': opts.redirectUris.push(value()); break;
      case '--post-logout-redirect-uri': opts.postLogoutRedirectUris.push(value()); break;
      case '--id-token-ttl': opts.idTokenTtl = number(flag, value()); break;
      case '--access-token-ttl': opts.accessTokenTtl = number(flag, value()); break;
      case '--token-delay-ms': opts.tokenDelayMs = number(flag, value()); break;
      case '--backchannel-logout-uri': opts.backchannelLogoutUri = value(); break;
      case '--opaque-subjects': opts.opaqueSubjects = true; break;
      case '--exit-on-stdin-close': opts.exitOnStdinClose = true; break;
      default: usage(`unknown argument ${flag}`);
    }
  }
  if (opts.idTokenTtl === 0) usage('--id-token-ttl must be at least 1');
  if (opts.accessTokenTtl === 0) usage('--access-token-ttl must be at least 1');
  if (opts.redirectUris.length === 0) usage('at least one --redirect-uri is required');
  return opts;
}

/** Escapes text for HTML element content and attribute values. */
function html(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A minimal page around `body`. */
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${html(title)}</title>
<style>body{font-family:sans-serif;max-width:24rem;margin:4rem auto}label,input,button{display:block;margin:.4rem 0}.error{color:#b00020}</style>
</head>
<body>
<h1>${html(title)}</h1>
${body}
</body>
</html>`;
}

/** The sign-in form, optionally with an error and the username typed before. */
function loginPage(uid, clientId, { error, username } = {}) {
  return page('Sign in to the test provider', `
<p>Signing in to <strong>${html(clientId)}</strong>.</p>
${error ? `<p class="error" role="alert">${html(error)}</p>` : ''}
<form method="post" action="/interaction/${html(uid)}">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" autofocus required value="${html(username ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`);
}

/** Reads an application/x-www-form-urlencoded request body (at most 64 KiB). */
async function formBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form body too large');
  }
  return new URLSearchParams(body);
}

/** Fresh RS256 signing key as a private JWK. */
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const host = '127.0.0.1';

/** The provider's configuration; the issuer is only known once the port is bound. */
function configuration() {
  return {
    clients: CLIENTS.map(({ id, secret }) => ({
      client_id: id,
      client_secret: secret,
      client_name: id,
      // Code flow with http loopback redirect URIs is allowed for web clients.
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: opts.redirectUris,
      post_logout_redirect_uris: opts.postLogoutRedirectUris,
      id_token_signed_response_alg: 'RS256',
      ...(id === 'apiary' && opts.backchannelLogoutUri
        ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true }
        : {}),
    })).concat(MACHINES.map(({ id, secret }) => ({
      client_id: id,
      client_secret: secret,
      client_name: id,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
    }))),
    jwks: { keys: [signingKey()] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Cookies ignore ports: distinct names keep them apart from a relying party's cookies
      // on the same 127.0.0.1.
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
    },
    async findAccount(_ctx, sub) {
      const user = USERS.find((u) => u.sub === sub);
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.sub,
        async claims() {
          return {
            sub: user.sub,
            name: user.name,
            preferred_username: user.username,
            email: `${user.username}@apiary.test`,
            email_verified: true,
            groups: user.groups,
          };
        },
      };
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups', 'api'],
    // Access tokens name who they speak for: a person's groups, or a machine client's.
    async extraTokenClaims(_ctx, token) {
      const machine = MACHINES.find((m) => m.id === token.clientId && !token.accountId);
      if (machine) return { groups: machine.groups };
      const user = USERS.find((u) => u.sub === token.accountId);
      return user ? { groups: user.groups, name: user.name } : undefined;
    },
    // Scope-requested claims go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // The relying parties under test listen on loopback, which oidc-provider's SSRF guard for
    // outgoing requests (back-channel logout) refuses: a test provider may reach them.
    fetch: (url, options) => {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    // Like Keycloak: a refresh token with every code exchange for a client allowed to refresh.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // JWT access tokens whose audience is the `resource` asked for (RFC 8707), which must
      // be a loopback http URL here.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (!resource.startsWith('http://127.0.0.1')) {
            throw new errors.InvalidTarget(`unknown resource ${resource}`);
          }
          return {
            scope: 'api',
            audience: resource,
            accessTokenTTL: opts.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource,
        postLogoutSuccessSource,
      },
      backchannelLogout: { enabled: Boolean(opts.backchannelLogoutUri) },
    },
    ttl: {
      AccessToken: 3600,
      ClientCredentials: opts.accessTokenTtl,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: opts.idTokenTtl,
      Interaction: 3600,
      RefreshToken: 3600,
      Session: 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<p class="error" role="alert">${html(out.error)}: ${html(out.error_description ?? '')}</p>`);
    },
  };
}

/**
 * The RP-initiated logout page. With a valid `id_token_hint` (the provider checked it before
 * this runs) the form is submitted at once by a script (`data-auto-submit`; without JavaScript
 * the user presses "Sign out"). Without one, like Keycloak, it asks and waits for the person.
 */
async function logoutSource(ctx, form) {
  const withButton = form.replace('</form>',
    '<input type="hidden" name="logout" value="yes"><button type="submit">Sign out</button></form>');
  ctx.type = 'html';
  if (ctx.oidc.entities.IdTokenHint) {
    ctx.body = page('Sign out', `
<p data-auto-submit>Signing you out of the test provider.</p>
${withButton}
<script>document.getElementById('op.logoutForm').submit();</script>`);
  } else {
    ctx.body = page('Sign out', `
<p>Do you want to sign out of the test provider?</p>
${withButton}`);
  }
}

/** Shown after a logout without a post_logout_redirect_uri. */
async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
}

/**
 * The interaction routes at /interaction/:uid: GET shows the sign-in form (login prompt) or
 * grants consent without asking (consent prompt, first-party clients); POST checks the password.
 */
function interactions(provider) {
  return async (ctx, next) => {
    const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
    if (!match) return next();
    ctx.set('cache-control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { uid, prompt, params } = details;
    if (uid !== match[1]) ctx.throw(400, 'interaction mismatch');

    if (prompt.name === 'login' && ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(uid, params.client_id);
      return undefined;
    }
    if (prompt.name === 'login' && ctx.method === 'POST') {
      const form = await formBody(ctx.req);
      const username = form.get('username') ?? '';
      const user = USERS.find((u) => u.username === username);
      if (!user || user.password !== form.get('password')) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(uid, params.client_id, { error: 'Wrong username or password.', username });
        return undefined;
      }
      return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: user.sub } }, {
        mergeWithLastSubmission: false,
      });
    }
    if (prompt.name === 'consent') {
      const { accountId } = details.session;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      const consent = details.grantId ? {} : { grantId };
      return provider.interactionFinished(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
    }
    return ctx.throw(400, `unexpected interaction ${prompt.name} ${ctx.method}`);
  };
}

/**
 * The test-only admin endpoint: `PUT /test-admin/users/USERNAME` with the admin token changes
 * the user's `groups` and/or `disabled`.
 */
function admin() {
  return async (ctx, next) => {
    const match = /^\/test-admin\/users\/([^/]+)$/.exec(ctx.path);
    if (!match) return next();
    if (ctx.get('authorization') !== `Bearer ${adminToken}`) ctx.throw(401, 'admin token required');
    if (ctx.method !== 'PUT') ctx.throw(405, 'PUT only');
    const user = USERS.find((u) => u.username === decodeURIComponent(match[1]));
    if (!user) ctx.throw(404, 'no such user');
    let text = '';
    for await (const chunk of ctx.req) text += chunk;
    const change = JSON.parse(text || '{}');
    if (change.groups !== undefined) {
      if (!Array.isArray(change.groups) || !change.groups.every((g) => typeof g === 'string')) ctx.throw(400, 'groups must be a list of strings');
      user.groups = change.groups;
    }
    if (change.disabled !== undefined) user.disabled = Boolean(change.disabled);
    ctx.type = 'json';
    ctx.body = { username: user.username, sub: user.sub, groups: user.groups, disabled: user.disabled };
    return undefined;
  };
}

/** Binds the port first (the issuer carries it), then builds the provider around the server. */
async function main() {
  let handler = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, resolve);
  });
  const issuer = `http://${host}:${server.address().port}`;

  const provider = new Provider(issuer, configuration());
  provider.on('backchannel.error', (_ctx, err, client) => {
    process.stderr.write(`provider.mjs: back-channel logout to ${client.clientId} failed: ${err?.message ?? err} ${err?.cause?.message ?? ""}\n`);
  });
  provider.use(admin());
  provider.use(interactions(provider));
  if (opts.tokenDelayMs > 0) {
    // A slow network between provider and client: with a short --id-token-ttl, the ID token
    // has expired by the time the client receives it.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/token') await new Promise((resolve) => setTimeout(resolve, opts.tokenDelayMs));
    });
  }
  handler = provider.callback();

  stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  if (opts.exitOnStdinClose) {
    process.stdin.on('end', () => stop());
    process.stdin.on('error', () => stop());
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ issuer, adminToken })}\n`);
}

main().catch((err) => {
  process.stderr.write(`provider.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
