"""An MCP server behind httpd, and the client AI agents bring: the official
MCP TypeScript SDK (npm @modelcontextprotocol/sdk, pinned in
tests/clients), end to end.

httpd proxies /mcp to a one-tool SDK server on loopback (started here)
and protects it: `ApiAuthResource` names the resource, the 401 points at
its metadata (RFC 9728), the authorization server takes open registration
(RFC 7591) and resource indicators (RFC 8707).  The SDK client knows only
the URL: it discovers, registers, sends the user to consent (this test's
script is the user), exchanges the code, and calls the tool -- whose
answer shows httpd let that client in.  The same token is refused at a
second resource."""
import json
import os
import subprocess
import time

import pytest

from harness import ROOT, free_port

CLIENTS = ROOT / "tests" / "clients"

BODY = """
ApiAuthOAuthResource @ISSUER@/mcp @ISSUER@/other
ApiAuthOAuthRegistration open app=agents
<Location /oauth2/register>
    SetHandler apiauth-register
</Location>
<Location /.well-known/oauth-protected-resource>
    SetHandler apiauth-resource-metadata
</Location>
<Location /mcp>
    AuthType apiauth
    AuthName "mcp"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthResource @ISSUER@/mcp
    ApiAuthForwardHeaders on
    Require apiauth-scope integration.store
    ProxyPass http://127.0.0.1:{mcp_port}/mcp
</Location>
<Location /other>
    AuthType apiauth
    AuthName "other"
    ApiAuthScheme bearer
    ApiAuthProvider oauth
    ApiAuthResource @ISSUER@/other
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module", autouse=True)
def sdk_present():
    assert (CLIENTS / "node_modules" / "@modelcontextprotocol" / "sdk"
            ).exists(), ("no @modelcontextprotocol/sdk: run make clients "
                         "(npm ci in tests/clients)")


@pytest.fixture(scope="module")
def mcp_server():
    """The SDK's server on a free loopback port, until the module ends."""
    port = free_port()
    proc = subprocess.Popen(["node", str(CLIENTS / "mcp_server.mjs")],
                            env=dict(os.environ, PORT=str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "listening", proc.stderr.read()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_mcp_sdk_with_a_client_metadata_document(servers, tls,
                                                      mcp_server):
    """The same client, naming itself by the URL of its metadata document
    where the authorization server says it takes them."""
    from test_cimd import Documents
    docs = Documents(*tls)
    try:
        o = servers.make(body=BODY.format(mcp_port=mcp_server),
                         modules=("proxy", "proxy_http"),
                         extra=("ApiAuthOAuthClientDomains app=agents "
                                "127.0.0.1\n"
                                f"ApiAuthOAuthFetchTestOnly loopback "
                                f"ca={tls[0]}"))
        o.store.app("agents")
        url = docs.base + "/agent.json"
        env = dict(os.environ, MCP_URL=o.issuer + "/mcp",
                   OTHER_URL=o.issuer + "/other/env", USER="alice",
                   PASSWORD="wonderland", CLIENT_METADATA_URL=url,
                   NODE_EXTRA_CA_CERTS=str(tls[0]))
        proc = subprocess.run(["node", str(CLIENTS / "mcp_client.mjs")],
                              env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr + o.httpd.error_log()[-3000:]
        out = json.loads(proc.stdout)
        assert out["client_id"] == url
        assert out["steps"][-1] == "connected"
        assert out["whoami"]["client_id"] == url
        assert out["token_aud"] == o.issuer + "/mcp"
        assert docs.hits.count("/agent.json") == 1
    finally:
        docs.stop()


def test_the_mcp_sdk_discovers_registers_and_calls_the_tool(servers, tls,
                                                            mcp_server):
    o = servers.make(body=BODY.format(mcp_port=mcp_server),
                     modules=("proxy", "proxy_http"))
    o.store.app("agents")
    env = dict(os.environ, MCP_URL=o.issuer + "/mcp",
               OTHER_URL=o.issuer + "/other/env", USER="alice",
               PASSWORD="wonderland", NODE_EXTRA_CA_CERTS=str(tls[0]))
    started = time.time()
    proc = subprocess.run(["node", str(CLIENTS / "mcp_client.mjs")],
                          env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr + o.httpd.error_log()[-3000:]
    out = json.loads(proc.stdout)
    # registered and sent to consent from the 401, then the code exchanged
    assert out["steps"] == ["registered", "authorize", "401", "tokens",
                            "connected"], out["steps"]
    # it asked for this resource, and the scope the challenge named
    assert out["authorize_resource"] == o.issuer + "/mcp"
    assert out["authorize_scope"] == "integration.store"
    assert out["consent_page"] == 200 and out["consent_names_client"]
    assert out["token_aud"] == o.issuer + "/mcp"
    # the tool ran, and httpd told it which client
    assert out["tools"] == ["whoami"]
    assert out["whoami"] == {"client_id": out["client_id"],
                             "scope": "integration.store"}
    # the registered client is an ordinary one
    listed = json.loads(o.store.out("client", "list", json=True))
    assert any(c["client_id"] == out["client_id"]
               and c["client_name"] == "MCP test agent" for c in listed)
    # and its token is for /mcp only
    assert out["other_status"] == 401
    assert "another resource" in out["other_error"]
    assert time.time() - started < 60
