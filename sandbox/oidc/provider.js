// A real OpenID Provider for the KAMS tests: the npm package oidc-provider (a certified OP), on a free
// loopback port, with the clients and accounts of a JSON file.
//
//   node sandbox/oidc/provider.js CONFIG.json
//
// CONFIG.json:
//   { "clients":  [{ "client_id", "client_secret", "redirect_uris": [...],
//                    "post_logout_redirect_uris": [...],            (optional, default: redirect_uris)
//                    "token_endpoint_auth_method": "client_secret_basic" }],   (optional; or _post)
//     "accounts": [{ "sub", "email", "email_verified", "name", "groups": [...] }],
//     "groups_scopes": ["groups"],                                   (optional: the scopes releasing groups)
//     "initial_access_token": "..." }          (optional: enables dynamic client registration at /reg)
//
// It listens on 127.0.0.1 port 0 and prints one JSON line on stdout once it serves:
//   {"issuer": "http://127.0.0.1:PORT", "port": PORT, "pid": PID}
// sandbox/identity.py reads that line; SIGTERM stops the process.
//
// Sign-in is a small form of ours (no devInteractions): /interaction/UID shows "Email" (the account's
// email or sub) and "Sign in"; an unknown account re-shows the form with "Unknown account"; "Cancel" ends
// the request with access_denied. Consent is never asked: the grant for every requested scope and claim
// is made at once (loadExistingGrant), as for a first-party client. prompt=select_account (Streamlit's
// st.login always sends it) shows the same form even when a session exists, like an account chooser.
// ID tokens carry every claim of the granted scopes (conformIdTokenClaims: false): Streamlit's st.user
// reads the ID token. Logout: the end_session endpoint (rp-initiated logout) shows "Yes, sign me out".
// Dynamic client registration (RFC 7591, POST /reg with the initial access token as bearer) lets each
// served app register its own redirect_uri once its port is known.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { interactionPolicy } from 'oidc-provider';

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: node provider.js CONFIG.json\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const accounts = config.accounts ?? [];
const groupsScopes = config.groups_scopes ?? ['groups'];

function accountFor(login) {
  const wanted = String(login ?? '').trim().toLowerCase();
  return accounts.find((a) => a.sub.toLowerCase() === wanted || (a.email ?? '').toLowerCase() === wanted);
}

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const claims = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name'],
};
for (const scope of groupsScopes) {
  claims[scope] = [...(claims[scope] ?? []), 'groups'];
}

const policy = interactionPolicy.base();
// Requestable, so prompt=select_account is a supported value; its check asks for an interaction, which
// our form answers (with the login and select_account results together).
policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'kams-test', use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris ?? client.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    })),
    claims,
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    jwks: { keys: [signingKey] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      registration: config.initial_access_token
        ? { enabled: true, initialAccessToken: config.initial_access_token }
        : { enabled: false },
    },
    interactions: {
      policy,
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, id) {
      const account = accountFor(id);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        async claims() {
          return { ...account, sub: account.sub };
        },
      };
    },
    // No consent screen: the grant covers whatever the client asked for.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (!grant) {
        grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      }
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>Sign-in error</title></head><body>
        <h1>Sign-in error</h1><pre id="error">${escapeHtml(JSON.stringify(out, null, 2))}</pre></body></html>`;
    },
  });

  const loginPage = (uid, details, message) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to the KAMS test IdP</title></head>
<body>
  <h1>Sign in</h1>
  <p id="client">to ${escapeHtml(details.params.client_id)}</p>
  ${message ? `<p id="message" role="alert">${escapeHtml(message)}</p>` : ''}
  <form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
    <label for="login">Email</label>
    <input id="login" name="login" type="text" required autofocus value="${escapeHtml(details.params.login_hint)}">
    <button type="submit">Sign in</button>
  </form>
  <p><a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>
</body></html>`;

  async function readForm(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('interaction mismatch');
      return;
    }
    if (action === 'abort') {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      return;
    }
    if (action === 'login' && req.method === 'POST') {
      const form = await readForm(req);
      const account = accountFor(form.get('login'));
      if (!account) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(loginPage(uid, details, `Unknown account: ${form.get('login')}`));
        return;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: account.sub },
        select_account: {},
      }, { mergeWithLastSubmission: false });
      return;
    }
    if (!['login', 'select_account', 'consent'].includes(details.prompt.name)) {
      res.writeHead(501, { 'content-type': 'text/plain' }).end(`prompt ${details.prompt.name} not implemented`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage(uid, details));
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([^/?]+)(?:\/(login|abort))?(?:\?.*)?$/.exec(req.url ?? '');
    if (!match) {
      callback(req, res);
      return;
    }
    interaction(req, res, match[1], match[2]).catch((error) => {
      process.stderr.write(`interaction error: ${error?.stack ?? error}\n`);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain' });
      }
      res.end(`Sign-in error: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
    });
  });

  provider.on('server_error', (ctx, error) => process.stderr.write(`server_error: ${error?.stack ?? error}\n`));
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ issuer, port, pid: process.pid })}\n`);
});
