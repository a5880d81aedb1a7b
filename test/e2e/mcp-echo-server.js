// A tiny real MCP stdio server (MCP TypeScript SDK): one tool `echo` that answers `echo: <text>`; `fail` answers isError.
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { z } = require('zod');

const server = new McpServer({ name: 'echo-server', version: '1.0.0' });
server.registerTool('echo', { description: 'echoes text', inputSchema: { text: z.string(), api_key: z.string().optional() } },
  async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }));
server.registerTool('fail', { description: 'always fails', inputSchema: {} },
  async () => ({ content: [{ type: 'text', text: 'failed on purpose' }], isError: true }));
server.connect(new StdioServerTransport()).catch((e) => { console.error(e); process.exit(1); });
