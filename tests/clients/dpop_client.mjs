// A DPoP client as users write one: oauth4webapi (RFC 9449 support, the
// server nonce retry), against our authorization server and a resource
// behind it.  Driven by tests/integration/test_dpop_clients.py, which
// starts the servers and reads what this prints (one JSON object).
//
// Environment: ISSUER, CC_ID and CC_SECRET (a confidential client with
// client_credentials), PUB_ID (a first-party public client with
// authorization_code and refresh_token, redirect REDIRECT), USER and
// PASSWORD (the resource owner, Basic at the authorize endpoint),
// RESOURCE (a URL taking DPoP tokens), SCOPE.  NODE_EXTRA_CA_CERTS names
// the servers' certificate.
import * as oauth from 'oauth4webapi';

const env = process.env;
const issuer = new URL(env.ISSUER);
const out = {};

// one retry when the server asks for its nonce: the DPoP handle has
// taken the nonce from the refusal
async function withNonce(send, process) {
  try {
    return await process(await send());
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) {
      throw err;
    }
    out.nonce_retries = (out.nonce_retries || 0) + 1;
    return process(await send());
  }
}

async function callResource(token, DPoP) {
  const send = async () => {
    try {
      return { status: (await oauth.protectedResourceRequest(
        token, 'GET', new URL(env.RESOURCE), new Headers(), null,
        { DPoP })).status };
    } catch (err) {
      if (err.code !== 'OAUTH_WWW_AUTHENTICATE_CHALLENGE') {
        throw err;
      }
      return { status: err.status, nonce: oauth.isDPoPNonceError(err) };
    }
  };
  let r = await send();
  if (r.nonce) {
    out.resource_nonce_retries = (out.resource_nonce_retries || 0) + 1;
    r = await send();
  }
  return r.status;
}

const as = await oauth.processDiscoveryResponse(
  issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' }));
out.dpop_algs = as.dpop_signing_alg_values_supported;

// client credentials
{
  const client = { client_id: env.CC_ID };
  const auth = oauth.ClientSecretBasic(env.CC_SECRET);
  const key = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, key);
  const result = await withNonce(
    () => oauth.clientCredentialsGrantRequest(
      as, client, auth, new URLSearchParams({ scope: env.SCOPE }), { DPoP }),
    (r) => oauth.processClientCredentialsResponse(as, client, r));
  out.cc_token_type = result.token_type;
  out.cc_resource = await callResource(result.access_token, DPoP);
  // the same token with a proof by another key
  const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  out.cc_resource_other_key = await callResource(result.access_token, other);
}

// authorization code + PKCE, then a refresh, with one key throughout
{
  const client = { client_id: env.PUB_ID };
  const key = await oauth.generateKeyPair('EdDSA');
  const DPoP = oauth.DPoP(client, key);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', env.REDIRECT);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', env.SCOPE);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge',
    await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  // the resource owner logs in (Basic); a first-party client asks no consent
  const login = Buffer.from(`${env.USER}:${env.PASSWORD}`).toString('base64');
  const answer = await fetch(url, {
    redirect: 'manual', headers: { authorization: `Basic ${login}` } });
  const params = oauth.validateAuthResponse(
    as, client, new URL(answer.headers.get('location')), state);
  const first = await withNonce(
    () => oauth.authorizationCodeGrantRequest(
      as, client, oauth.None(), params, env.REDIRECT, verifier, { DPoP }),
    (r) => oauth.processAuthorizationCodeResponse(as, client, r));
  out.code_token_type = first.token_type;
  out.code_resource = await callResource(first.access_token, DPoP);
  const refreshed = await withNonce(
    () => oauth.refreshTokenGrantRequest(
      as, client, oauth.None(), first.refresh_token, { DPoP }),
    (r) => oauth.processRefreshTokenResponse(as, client, r));
  out.refresh_token_type = refreshed.token_type;
  out.refresh_resource = await callResource(refreshed.access_token, DPoP);
  // the next refresh token with another key: the family is bound to ours
  const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  try {
    await withNonce(
      () => oauth.refreshTokenGrantRequest(
        as, client, oauth.None(), refreshed.refresh_token, { DPoP: thief }),
      (r) => oauth.processRefreshTokenResponse(as, client, r));
    out.refresh_other_key = 'accepted';
  } catch (err) {
    out.refresh_other_key = err.error || err.code || String(err);
  }
}

console.log(JSON.stringify(out));
