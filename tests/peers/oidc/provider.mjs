// A real OpenID Provider for healthgate's tests: oidc-provider (OpenID
// certified) configured from a JSON file, issuing client_credentials access
// tokens (JWT or opaque, per client) with resource indicators, introspection
// and revocation. See README.md for the configuration format.
//
//   node provider.mjs config.json
//
// On start it prints one JSON line {"port":N} to stdout. The signing keys are
// kept in config.stateFile so a restarted provider serves the same keys;
// POST /__control/rotate replaces them (see README.md).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const cfgPath = process.argv[2] ?? process.env.OP_CONFIG;
if (!cfgPath) {
  console.error('usage: node provider.mjs <config.json>');
  process.exit(2);
}
const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
if (!cfg.issuer) throw new Error('config: issuer is required');
const clients = cfg.clients ?? [];
const defaultResource = cfg.defaultResource ?? 'https://fhir.example/';

function newKeys() {
  const tag = randomUUID().slice(0, 8);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rsa-${tag}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `ec-${tag}`, alg: 'ES256', use: 'sig' },
  ];
}

// loadKeys returns the persisted keys, creating them on first start.
function loadKeys() {
  if (cfg.stateFile && existsSync(cfg.stateFile)) {
    return JSON.parse(readFileSync(cfg.stateFile, 'utf8')).keys;
  }
  const keys = newKeys();
  saveKeys(keys);
  return keys;
}

function saveKeys(keys) {
  if (cfg.stateFile) writeFileSync(cfg.stateFile, JSON.stringify({ keys }), { mode: 0o600 });
}

const clientById = new Map(clients.map((c) => [c.client_id, c]));
const allScopes = new Set(['openid', ...(cfg.scopes ?? [])]);
for (const c of clients) for (const s of (c.scope ?? '').split(' ').filter(Boolean)) allScopes.add(s);
const scopeList = [...allScopes].join(' ');

function buildProvider(keys) {
  const provider = new Provider(cfg.issuer, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: c.scope ?? '',
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys },
    scopes: [...allScopes],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf ?? defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource, client) => {
          const c = clientById.get(client.clientId) ?? {};
          return {
            scope: scopeList,
            audience: c.audience ?? resource,
            accessTokenTTL: c.ttl ?? cfg.ttl ?? 300,
            accessTokenFormat: c.format ?? 'jwt',
            jwt: { sign: { alg: c.alg ?? 'RS256' } },
          };
        },
      },
    },
    // Claims every token of the client carries, JWT and opaque alike.
    extraTokenClaims: async (ctx, token) => clientById.get(token.clientId)?.extraTokenClaims,
    formats: {
      customizers: {
        // jwtClaims replace standard claims (sub, iss…) in JWTs; jwtHeader
        // adds header fields. Both exist to mint odd or hostile tokens.
        jwt: async (ctx, token, jwt) => {
          const c = clientById.get(token.clientId);
          if (c?.jwtClaims) Object.assign(jwt.payload, c.jwtClaims);
          if (c?.jwtHeader) jwt.header = { ...(jwt.header ?? {}), ...c.jwtHeader };
        },
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

let keys = loadKeys();
let handler = buildProvider(keys).callback();

// control answers the test harness: rotate the keys (?keep=1 keeps the old
// ones published after the new), or show the public key ids.
function control(req, res) {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST' && url.pathname === '/__control/rotate') {
    const fresh = newKeys();
    keys = url.searchParams.get('keep') === '1' ? [...fresh, ...keys] : fresh;
    saveKeys(keys);
    handler = buildProvider(keys).callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/__control/kids') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
    return;
  }
  res.writeHead(404);
  res.end();
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__control/')) return control(req, res);
  return handler(req, res);
});
server.listen(cfg.port ?? 0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
