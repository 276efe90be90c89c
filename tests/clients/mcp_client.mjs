// An MCP client as AI agents run one: the official TypeScript SDK, which
// arrives knowing only MCP_URL.  From the 401 it discovers the protected
// resource metadata and the authorization server, registers itself
// (RFC 7591), sends the user to the authorization endpoint with PKCE and
// a resource indicator, and exchanges the code.  The "user" is this
// script: it logs in with Basic (USER, PASSWORD), reads the consent page
// and approves, as test_browser.py does in Chromium.  Then it calls the
// tool, and tries the token it got at OTHER_URL, another resource.  With
// CLIENT_METADATA_URL it names itself by that document instead of
// registering.
// Prints one JSON object.  NODE_EXTRA_CA_CERTS names the servers'
// certificate.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const env = process.env;
const out = { steps: [] };
const redirectUrl = 'http://127.0.0.1:43123/callback';

class Provider {
  constructor() { this.store = {}; }
  get redirectUrl() { return redirectUrl; }
  // set: the client names itself by its metadata document, where the
  // authorization server says it takes them
  get clientMetadataUrl() { return env.CLIENT_METADATA_URL || undefined; }
  get clientMetadata() {
    return {
      client_name: 'MCP test agent',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this.store.client; }
  saveClientInformation(info) {
    out.steps.push('registered');
    out.client_id = info.client_id;
    this.store.client = info;
  }
  tokens() { return this.store.tokens; }
  saveTokens(tokens) { out.steps.push('tokens'); this.store.tokens = tokens; }
  saveCodeVerifier(v) { this.store.verifier = v; }
  codeVerifier() { return this.store.verifier; }
  async redirectToAuthorization(url) {
    out.steps.push('authorize');
    out.authorize_resource = url.searchParams.get('resource');
    out.authorize_scope = url.searchParams.get('scope');
    this.store.code = await consent(url);
  }
}

// the resource owner: logs in, reads the page, approves
async function consent(url) {
  const login = Buffer.from(`${env.USER}:${env.PASSWORD}`).toString('base64');
  const headers = { authorization: `Basic ${login}` };
  const page = await fetch(url, { headers, redirect: 'manual' });
  const html = await page.text();
  out.consent_page = page.status;
  out.consent_names_client = html.includes('MCP test agent');
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    form.set(m[1], m[2].replaceAll('&amp;', '&').replaceAll('&quot;', '"')
      .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&#39;', "'"));
  }
  form.set('decision', 'approve');
  const answer = await fetch(url.origin + url.pathname, {
    method: 'POST', headers: { ...headers,
      'content-type': 'application/x-www-form-urlencoded' },
    body: form, redirect: 'manual' });
  const back = new URL(answer.headers.get('location'));
  return back.searchParams.get('code');
}

const provider = new Provider();
const mcpUrl = new URL(env.MCP_URL);
let client = new Client({ name: 'apiauth-test-agent', version: '1.0.0' });
try {
  await client.connect(new StreamableHTTPClientTransport(mcpUrl,
    { authProvider: provider }));
  out.steps.push('connected without a token');
} catch (err) {
  if (!(err instanceof UnauthorizedError)) {
    throw err;
  }
  out.steps.push('401');
  const transport = new StreamableHTTPClientTransport(mcpUrl,
    { authProvider: provider });
  await transport.finishAuth(provider.store.code);
  client = new Client({ name: 'apiauth-test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl,
    { authProvider: provider }));
  out.steps.push('connected');
}
const tools = await client.listTools();
out.tools = tools.tools.map((t) => t.name);
const called = await client.callTool({ name: 'whoami', arguments: {} });
out.whoami = JSON.parse(called.content[0].text);
await client.close();

const token = provider.tokens().access_token;
out.token_aud = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).aud;
const other = await fetch(env.OTHER_URL, {
  headers: { authorization: `Bearer ${token}` } });
out.other_status = other.status;
out.other_error = (await other.json()).error_description;
console.log(JSON.stringify(out));
