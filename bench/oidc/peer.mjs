// The peer of the token endpoint rows: oidc-provider (npm) issuing JWT
// access tokens (RFC 9068, RS256) for the client_credentials grant, with
// client_secret_basic, on loopback.  bench/bench.py installs oidc-provider
// into a temporary folder, copies this file beside it and runs
//
//   node peer.mjs PORT CLIENT_ID CLIENT_SECRET SCOPE
//
// It prints "ready" once it listens.  Production mode (NODE_ENV), the
// in-memory adapter: nothing is written per token, as on our side for
// client_credentials.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, scope] = process.argv.slice(2);
const resource = 'https://api.bench.invalid';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
  }],
  jwks: { keys: [jwk] },
  scopes: [scope],
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: { ClientCredentials: 172800 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope,
        audience: resource,
        accessTokenTTL: 172800,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
