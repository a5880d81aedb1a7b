// A real MCP client (MCP TypeScript SDK). `spawn` mode (default): starts test/e2e/mcp-echo-server.js with
// StdioClientTransport. `stdio` mode: talks JSON-RPC over its own stdin/stdout (the server is wired to them
// outside, e.g. through FIFOs). Calls echo(text = argv[2], api_key = a fake key) and fail(); prints the results as
// one JSON line on stdout (spawn mode) or stderr (stdio mode).
const path = require('node:path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');

(async () => {
  const mode = process.argv[3] || 'spawn';
  const transport = mode === 'stdio'
    ? new StdioServerTransport() // a plain newline-delimited JSON-RPC transport over this process' stdin/stdout
    : new StdioClientTransport({ command: process.execPath, args: [path.join(__dirname, 'mcp-echo-server.js')], stderr: 'inherit' });
  const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
  await client.connect(transport);
  const echo = await client.callTool({ name: 'echo', arguments: { text: process.argv[2], api_key: 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123' } });
  const fail = await client.callTool({ name: 'fail', arguments: {} });
  const line = `${JSON.stringify({ echo, fail })}\n`;
  if (mode === 'stdio') process.stderr.write(line);
  else process.stdout.write(line);
  await client.close();
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
