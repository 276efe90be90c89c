// A one-tool MCP server, as an operator puts one behind httpd: the
// official TypeScript SDK, Streamable HTTP, stateless, JSON answers, on a
// loopback port (PORT).  It knows nothing of OAuth: httpd in front
// authenticates, and passes who it let in on as X-ApiAuth-* headers,
// which the tool reports.  Prints "listening" once it is.
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

function server() {
  const mcp = new McpServer({ name: 'apiauth-test', version: '1.0.0' });
  mcp.registerTool('whoami', {
    description: 'Says which OAuth client httpd let in',
  }, async (extra) => {
    const headers = extra.requestInfo?.headers ?? {};
    return {
      content: [{
        type: 'text',
        text: JSON.stringify({
          client_id: headers['x-apiauth-client-id'] ?? null,
          scope: headers['x-apiauth-scope'] ?? null,
        }),
      }],
    };
  });
  return mcp;
}

const httpServer = http.createServer(async (req, res) => {
  if (!req.url.startsWith('/mcp')) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined, enableJsonResponse: true });
  const mcp = server();
  res.on('close', () => { transport.close(); mcp.close(); });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
});

httpServer.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('listening');
});
