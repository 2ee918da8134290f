// The end-to-end suite's real authorization server: panva's oidc-provider
// (OpenID Certified), installed by scripts/oidc-provider.sh, with only what a
// machine-to-machine vendor offers: the client_credentials grant, the
// client authentication methods the config file allows, and RFC 8707
// resource indicators whose access tokens are JWTs signed by the server.
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

const { default: Provider, errors } = await import(providerEntry(args['provider-dir']));
const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, providerConfig(config));
logEvents(provider);
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
  p.on('grant.success', (ctx) => log(`grant.success client_id=${ctx.oidc.client?.clientId}`));
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
