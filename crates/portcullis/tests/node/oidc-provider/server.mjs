// A real OpenID Provider for the sign-in-with-a-provider tests: panva's
// certified `oidc-provider`, on a random loopback port, with one registered
// client and test users. The Rust tests spawn it (`node server.mjs`) and
// read one JSON line from stdout: {"issuer": "http://127.0.0.1:PORT"}.
//
// Settings come from the environment:
//   OP_REDIRECT_URIS   the client's redirect URIs, comma-separated
//   OP_CLIENT_ID       default "portcullis"
//   OP_CLIENT_SECRET   default "op-secret-for-tests"
//   OP_CONFORM         "1": the scope's claims only from UserInfo, not in the
//                      ID token (the specification's default; Portcullis
//                      must then ask UserInfo)
//
// Sign-in at the provider is a minimal interaction of our own at
// /interaction/:uid: a form with a login name (any password is accepted),
// which completes the login and grants the requested scopes at once. The
// name picks the user:
//   alice    alice@example.com, verified
//   carol    carol@example.com, verified    (the tests give Portcullis a "carol")
//   mallory  victim@example.com, NOT verified (the tests give Portcullis a "victim")
//   noemail  no address at all
//   other    other@example.com, verified
import http from 'node:http';
import Provider from 'oidc-provider';

// stdout carries only the one ready line: the provider's notices go to stderr.
for (const level of ['log', 'info', 'warn', 'debug']) {
  console[level] = (...args) => process.stderr.write(`${args.join(' ')}\n`);
}

const clientId = process.env.OP_CLIENT_ID || 'portcullis';
const clientSecret = process.env.OP_CLIENT_SECRET || 'op-secret-for-tests';
const redirectUris = (process.env.OP_REDIRECT_URIS || '').split(',').filter(Boolean);

function claimsOf(id) {
  switch (id) {
    case 'alice':
      return { sub: id, email: 'alice@example.com', email_verified: true, preferred_username: 'alice', name: 'Alice Liddell' };
    case 'carol':
      return { sub: id, email: 'carol@example.com', email_verified: true, preferred_username: 'carol' };
    case 'mallory':
      return { sub: id, email: 'victim@example.com', email_verified: false, preferred_username: 'mallory' };
    case 'noemail':
      return { sub: id, preferred_username: 'noemail' };
    default:
      return { sub: id, email: `${id}@example.com`, email_verified: true, preferred_username: id };
  }
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // Every request must carry an S256 challenge: the tests prove that
    // Portcullis sends one and the verifier that goes with it.
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // The scope's claims in the ID token itself, as Google, GitLab and
    // Keycloak put them there, unless OP_CONFORM asks for UserInfo only.
    conformIdTokenClaims: process.env.OP_CONFORM === '1',
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => claimsOf(id),
    }),
    cookies: { keys: ['portcullis-test-op-cookie-key'] },
    ttl: { Interaction: 600, Grant: 600, Session: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // Quiet: the tests read stdout.
    renderError: async (ctx, out) => {
      ctx.type = 'text/plain';
      ctx.body = `error: ${out.error}: ${out.error_description || ''}`;
    },
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    const match = /^\/interaction\/([\w-]+)$/.exec(new URL(req.url, issuer).pathname);
    if (!match) {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(`<!doctype html><html lang="en"><head><title>Test OP: sign in</title></head><body>
<h1>Test OP</h1>
<form method="post" action="/interaction/${escape(details.uid)}">
<label>Login <input name="login" id="op-login" autofocus></label>
<label>Password <input name="password" id="op-password" type="password"></label>
<button type="submit" id="op-submit">Sign in at the test OP</button>
</form></body></html>`);
        return;
      }
      const form = await readForm(req);
      const accountId = (form.login || '').trim();
      if (!/^[\w-]{1,32}$/.test(accountId)) {
        res.statusCode = 400;
        res.end('bad login');
        return;
      }
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (e) {
      res.statusCode = 400;
      res.end(`interaction failed: ${e.message}`);
    }
  });

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// The tests kill this process; stdin closing (the test process gone) ends it too.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
