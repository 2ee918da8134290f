// The end-to-end suite's real authorization server: panva's oidc-provider
// (OpenID Certified), installed by scripts/oidc-provider.sh, with what a
// machine-to-machine vendor offers: the client_credentials grant, the
// client authentication methods the config file allows, and RFC 8707
// resource indicators whose access tokens are JWTs signed by the server;
// and, when the config file has user_flows, what a vendor of user-delegated
// tokens offers: authorization code with PKCE, the device flow, refresh
// tokens that rotate, and its own login and consent pages.
//
//   node server.mjs --provider-dir DIR --config FILE --addr-file FILE
//
// DIR holds node_modules/oidc-provider. FILE (JSON, written by the Go test):
//   clients              oidc-provider client metadata, registered at start
//   client_auth_methods  token_endpoint_auth_methods_supported (default: the
//                        four the plugin speaks besides tls_client_auth)
//   resources            {"<resource indicator>": {"scope": "a b"}}: a
//                        request naming one gets a JWT access token with
//                        aud = the indicator (RFC 9068)
//   user_flows           absent: none of the below (the machine-to-machine
//                        vendor above, exactly). Present, an object:
//     access_token_ttl   seconds (default 3600) of an access token issued
//                        by authorization_code, refresh_token or device_code
//     rotate_refresh_token  every refresh_token grant answers a new refresh
//                        token and consumes the one it used (default false)
//     refresh_reuse_grace   0 (default): a consumed refresh token used again
//                        is invalid_grant and revokes the whole grant, every
//                        token of it (oidc-provider's own rule, OAuth 2.0
//                        Security BCP 4.14.2); N: it stays usable N seconds
//                        after its rotation (Xero: 30 min, Atlassian: 10),
//                        then reuse revokes as above
//     device_flow        RFC 8628 at /device/auth, verification_uri /device
//     device_interval    seconds: the device authorization answers this
//                        interval (oidc-provider gives none: RFC 8628's
//                        default 5) and a poll of a pending code sooner
//                        than it after the last is answered slow_down and
//                        logged "device poll too fast"
//     device_slow_down   the first poll of each device code is answered
//                        slow_down: from then on the client must wait the
//                        interval plus 5 s (RFC 8628 3.5)
//     token_answer_delay_ms  the token endpoint answers this long after its
//                        grant has run (a refresh token used is consumed,
//                        the new one issued): a client killed meanwhile
//                        never gets the answer, as when a network drops it
//     credentials_file   every refresh token and device code issued is
//                        appended to it, a line each ("refresh_token
//                        <value>", "device_code <value>"): the test's leak
//                        scans look for them in Vault's answers and logs
//                        (this log never shows one)
//   The login page takes any login name and any password (the account is
//   the login name); consent grants every scope the request asks for. PKCE
//   is required of every authorization request, and oidc-provider accepts
//   S256 only. A client that may use refresh_token gets a refresh token
//   whether or not it asks for offline_access, and it does not end with the
//   browser's session.
// It listens on 127.0.0.1 on a free port (the plugin allows http to
// loopback), writes its issuer http://127.0.0.1:PORT to --addr-file once
// ready, and prints "ready <issuer>". Logs name requests and errors, never a
// credential: request bodies and headers are not logged.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    'provider-dir': { type: 'string' },
    config: { type: 'string' },
    'addr-file': { type: 'string' },
  },
});
for (const name of ['provider-dir', 'config', 'addr-file']) {
  if (!args[name]) fail(`--${name} is required`);
}

const entry = providerEntry(args['provider-dir']);
const { default: Provider, errors } = await import(entry);
const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));
const adapter = config.user_flows ? await tokenStore(entry, config.user_flows) : undefined;

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, providerConfig(config));
logEvents(provider);
delayTokenAnswers(provider, config.user_flows?.token_answer_delay_ms ?? 0);
if (config.user_flows?.device_interval) pollingRules(provider, config.user_flows);
const callback = provider.callback();
server.on('request', (req, res) => {
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    log(`${req.method} ${req.url.split('?')[0]} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  callback(req, res);
});

writeFileAtomic(args['addr-file'], issuer);
console.log(`ready ${issuer}`);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`${sig}: shutting down`);
    server.close();
    server.closeAllConnections();
    fs.rmSync(args['addr-file'], { force: true });
    process.exit(0);
  });
}

// providerEntry finds oidc-provider's ES module under DIR: this script lives
// in the repository, the package in the cache, so a bare import would not
// resolve it.
function providerEntry(dir) {
  const pkgDir = path.join(dir, 'node_modules', 'oidc-provider');
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  } catch (err) {
    fail(`no oidc-provider under ${dir} (run scripts/oidc-provider.sh): ${err.message}`);
  }
  log(`oidc-provider ${pkg.version} on Node ${process.version}`);
  return pathToFileURL(path.join(pkgDir, pkg.main)).href;
}

function providerConfig(cfg) {
  const resources = cfg.resources ?? {};
  const m2m = machineConfig(cfg, resources);
  return cfg.user_flows ? withUserFlows(m2m, cfg.user_flows) : m2m;
}

function machineConfig(cfg, resources) {
  return {
    clients: cfg.clients ?? [],
    // A client may be registered with (and ask for) its resource servers'
    // scopes.
    scopes: ['openid', ...Object.values(resources).flatMap((rs) => (rs.scope ?? '').split(' ').filter(Boolean))],
    clientAuthMethods: cfg.client_auth_methods
      ?? ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ttl: { ClientCredentials: 600 },
    // oidc-provider's fetch refuses special-use addresses (SSRF guard,
    // lib/helpers/fetch_request.js), loopback included; the clients'
    // jwks_uri is the test's Vault on 127.0.0.1, so this server fetches
    // without the guard.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // The test asks whether a token the plugin served is live, as a
      // resource server would.
      introspection: { enabled: true, allowedPolicy: () => true },
      resourceIndicators: {
        enabled: true,
        // No resource named: an opaque token, as a vendor without
        // resource servers answers.
        defaultResource: (ctx, client, oneOf) => oneOf,
        getResourceServerInfo: (ctx, indicator) => {
          const rs = resources[indicator];
          if (!rs) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope: rs.scope ?? '',
            audience: indicator,
            accessTokenTTL: rs.ttl ?? 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
}

// withUserFlows adds what a vendor of user-delegated tokens offers to the
// machine-to-machine configuration (see user_flows at the top).
function withUserFlows(base, uf) {
  return {
    ...base,
    adapter,
    scopes: [...base.scopes, 'offline_access'],
    ttl: {
      ...base.ttl,
      AccessToken: uf.access_token_ttl ?? 3600,
      // Long enough that oidc-provider's default rotation rule (at 70% of
      // the refresh token's life) never decides instead of the switch.
      RefreshToken: 14 * 24 * 3600,
    },
    // The dev interactions: oidc-provider's own login and consent pages,
    // which a real browser fills in (e2e/oidc/browser.mjs).
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    pkce: { required: () => true },
    // Vendors of user-delegated tokens (Xero, QuickBooks, Atlassian) give
    // one to a client allowed to refresh, whether or not offline_access
    // made it past the consent prompt, and it outlives the browser session.
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: () => false,
    rotateRefreshToken: uf.rotate_refresh_token === true,
    features: {
      ...base.features,
      devInteractions: { enabled: true },
      deviceFlow: { enabled: uf.device_flow === true },
    },
  };
}

// tokenStore is oidc-provider's in-memory adapter with room for every
// token a test makes (its default store keeps 1000 entries, and evicting a
// live refresh token would look to the plugin like a revoked one) and, when
// grace > 0, a reuse window: a rotated refresh token reads as consumed only
// grace seconds after its rotation. oidc-provider's refresh_token grant
// revokes the grant when it finds its token consumed
// (lib/actions/grants/refresh_token.js), so within the window reuse is
// served and after it reuse revokes, as strict vendors do at once.
async function tokenStore(entry, { refresh_reuse_grace: grace = 0, credentials_file: issued }) {
  const lib = (file) => new URL(file, entry).href;
  const { default: MemoryAdapter } = await import(lib('./adapters/memory_adapter.js'));
  const { default: LRU } = await import(lib('./helpers/lru.js'));
  const store = new LRU({ maxSize: 100000 });
  const now = () => Math.floor(Date.now() / 1000);
  class TokenStore extends MemoryAdapter {
    constructor(model) {
      super(model, store);
    }

    async consume(id) {
      if (this.model !== 'RefreshToken' || grace <= 0) return super.consume(id);
      const payload = this.storage.get(this.key(id));
      // The window runs from the first rotation: reuse does not extend it.
      if (payload && !payload.rotatedAt) payload.rotatedAt = now();
      return undefined;
    }

    async upsert(id, payload, expiresIn) {
      // An opaque token's id is its value (lib/models/formats/opaque.js).
      const kind = { RefreshToken: 'refresh_token', DeviceCode: 'device_code' }[this.model];
      if (kind && issued) fs.appendFileSync(issued, `${kind} ${id}\n`);
      return super.upsert(id, payload, expiresIn);
    }

    async find(id) {
      const payload = await super.find(id);
      if (payload?.rotatedAt && !payload.consumed && now() - payload.rotatedAt >= grace) {
        payload.consumed = payload.rotatedAt;
      }
      return payload;
    }
  }
  log(`user flows: refresh token reuse ${grace > 0 ? `served for ${grace}s after rotation` : 'revokes the grant'}`);
  return (model) => new TokenStore(model);
}

// delayTokenAnswers holds the token endpoint's answer ms after the grant
// ran (koa sends the body once every middleware has returned).
function delayTokenAnswers(p, ms) {
  if (ms <= 0) return;
  p.use(async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') await new Promise((resolve) => { setTimeout(resolve, ms); });
  });
}

// pollingRules holds device flow clients to RFC 8628 3.5 (see
// device_interval): it rewrites the answers of oidc-provider, which
// neither sends an interval nor ever answers slow_down.
function pollingRules(p, { device_interval: interval, device_slow_down: slowDownFirst }) {
  const polls = new Map(); // device_code -> { last (ms), interval (s) }
  p.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/device/auth' && ctx.status === 200) {
      ctx.body = { ...ctx.body, interval };
      return;
    }
    if (ctx.path !== '/token' || ctx.oidc?.params?.grant_type !== 'urn:ietf:params:oauth:grant-type:device_code') return;
    const code = ctx.oidc.params.device_code;
    const now = Date.now();
    const seen = polls.get(code);
    polls.set(code, { last: now, interval: seen?.interval ?? interval });
    const pending = ctx.body?.error === 'authorization_pending';
    if (!seen) {
      if (slowDownFirst && pending) slowDown(ctx, polls.get(code), 'the first poll');
      return;
    }
    const waited = (now - seen.last) / 1000;
    // 0.1 s for the time between a request's arrival and its answer.
    if (waited < seen.interval - 0.1) {
      log(`device poll too fast: ${waited.toFixed(2)}s after the last, interval ${seen.interval}s`);
      if (pending) slowDown(ctx, polls.get(code), 'too fast');
    }
  });
}

function slowDown(ctx, poll, why) {
  poll.interval += 5;
  ctx.body = { error: 'slow_down', error_description: `${why}: poll every ${poll.interval}s` };
  log(`device poll answered slow_down (${why}); interval now ${poll.interval}s`);
}

// signingKey is a fresh RS256 key per run: the test reads the public half
// from the server's jwks_uri, as a resource server would.
function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
}

// logEvents says why a token request failed: oidc-provider answers every
// client authentication failure with the same invalid_client, and keeps the
// reason (wrong secret, unknown kid, replayed jti, ...) in error_detail.
function logEvents(p) {
  const describe = (err) => (err ? [err.name, err.message, err.error_description, err.error_detail,
    describe(err.cause)].filter(Boolean).join(': ') : '');
  for (const event of ['grant.error', 'server_error', 'jwks.error']) {
    p.on(event, (ctx, err) => log(`${event} ${describe(err)}`));
  }
  p.on('grant.success', (ctx) => log(`grant.success client_id=${ctx.oidc.client?.clientId} grant_type=${ctx.oidc.params?.grant_type}`));
  p.on('grant.revoked', (ctx, grantId) => log(`grant.revoked client_id=${ctx.oidc.client?.clientId} grant=${grantId}`));
  p.on('authorization.success', (ctx) => log(`authorization.success client_id=${ctx.oidc.client?.clientId}`));
  for (const event of ['authorization.error', 'device_authorization.error', 'interaction.error']) {
    p.on(event, (ctx, err) => log(`${event} ${describe(err)}`));
  }
}

function writeFileAtomic(file, data) {
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function log(msg) {
  console.log(`${new Date().toISOString()} oidc: ${msg}`);
}

function fail(msg) {
  console.error(`oidc: ${msg}`);
  process.exit(2);
}
