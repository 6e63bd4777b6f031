// The peer for bench/run.sh: node oidc-provider 9.x configured like the
// gatehouse bench (client_credentials, client_secret_basic, RS256 JWT
// access tokens with a 2048-bit key), in one process or a cluster.
//
// Usage: NODE_PATH=<folder with oidc-provider> node bench/peer.mjs PORT WORKERS
//   env BENCH_CLIENT_ID, BENCH_CLIENT_SECRET: the client to accept.
// It prints "ready" once every worker listens.
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';

const require = createRequire(process.env.PEER_MODULES + '/');
const [port, workers] = [Number(process.argv[2]), Number(process.argv[3] || 1)];
const issuer = `http://127.0.0.1:${port}`;

if (cluster.isPrimary && workers > 1) {
  // One key for all workers, as a deployment would share it.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  process.env.PEER_JWK = JSON.stringify(privateKey.export({ format: 'jwk' }));
  let ready = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork().on('message', (m) => {
      if (m === 'ready' && (ready += 1) === workers) console.log('ready');
    });
  }
} else {
  const Provider = require('oidc-provider').default ?? require('oidc-provider');
  const jwk = process.env.PEER_JWK
    ? JSON.parse(process.env.PEER_JWK)
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const resource = `${issuer}/api`;
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig', kid: 'bench' }] },
    clients: [{
      client_id: process.env.BENCH_CLIENT_ID,
      client_secret: process.env.BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read write',
    }],
    scopes: ['read', 'write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // JWT access tokens (RFC 9068) need a resource server: every token
      // is for one default resource, signed RS256.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read write',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.listen(port, '127.0.0.1', () => {
    if (process.send) process.send('ready');
    else console.log('ready');
  });
}
