// A resource server that validates gatehouse access tokens with `jose`
// (npm install jose). GET /read needs the `read` scope, GET /write needs
// `write`. The README's Node recipe is the `authenticate` function below.
//
//   GATEHOUSE_ISSUER=http://127.0.0.1:8080 node resource_server.mjs
//
// Settings: GATEHOUSE_ISSUER (required), GATEHOUSE_AUDIENCE (default: the
// issuer), PORT (default 0: any free port, printed on stdout as JSON),
// JWKS_COOLDOWN_SECONDS (default 10: least time between JWKS refetches for
// unknown key ids).
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify, errors } from 'jose';

const issuer = process.env.GATEHOUSE_ISSUER;
const audience = process.env.GATEHOUSE_AUDIENCE || issuer;
const cooldown = Number(process.env.JWKS_COOLDOWN_SECONDS ?? 10);

// RFC 8414: the metadata names the JWKS; its issuer must be ours exactly.
const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
if (meta.issuer !== issuer) throw new Error(`metadata is for ${meta.issuer}`);
// Caches the keys; an unknown kid refetches at most once per cooldown.
const jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { cooldownDuration: cooldown * 1000 });

class Refused extends Error {
  constructor(status, error, description) {
    super(description);
    Object.assign(this, { status, error });
  }
}

// RFC 6750 §2.1 + RFC 9068 §4. Returns the token's claims or throws Refused.
async function authenticate(authorization) {
  const [scheme, token, extra] = (authorization ?? '').trim().split(/ +/);
  if (scheme?.toLowerCase() !== 'bearer') throw new Refused(401); // no credentials
  if (!token || extra !== undefined) throw new Refused(400, 'invalid_request', 'malformed');
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ['RS256'], // never what the header says
      typ: 'at+jwt', // RFC 9068 §4
      clockTolerance: 10,
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    return payload;
  } catch (e) {
    // The issuer could not be asked for an unknown key (network error,
    // timeout, bad answer): never accept.
    const fetchFailed = !(e instanceof errors.JOSEError) || e.code === 'ERR_JOSE_GENERIC';
    if (fetchFailed || e instanceof errors.JWKSTimeout) {
      throw new Refused(503, null, 'issuer unavailable');
    }
    throw new Refused(401, 'invalid_token', e.code);
  }
}

function requireScope(claims, scope) {
  const granted = (claims.scope ?? '').split(' ');
  if (!granted.includes(scope)) throw new Refused(403, 'insufficient_scope', `needs ${scope}`);
}

const routes = { '/read': 'read', '/write': 'write' };

const server = createServer(async (req, res) => {
  const scope = routes[new URL(req.url, 'http://x').pathname];
  if (!scope) return res.writeHead(404).end();
  try {
    const claims = await authenticate(req.headers.authorization);
    requireScope(claims, scope);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ sub: claims.sub, client_id: claims.client_id, scope: claims.scope }));
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    let challenge = `Bearer realm="api"`;
    if (e.error) challenge += `, error="${e.error}", error_description="${e.message}"`;
    if (e.error === 'insufficient_scope') challenge += `, scope="${scope}"`;
    const headers = { 'Content-Type': 'application/json' };
    if (e.status === 503) headers['Retry-After'] = '10';
    else headers['WWW-Authenticate'] = challenge;
    res.writeHead(e.status, headers);
    res.end(JSON.stringify({ error: e.error ?? 'unauthorized' }));
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: `http://127.0.0.1:${server.address().port}` }));
});
