/**
 * A minimal OpenAI Responses API server for real rustls clients (Codex): a CA and a leaf certificate made with the
 * openssl CLI (rustls refuses a self-signed leaf), and an HTTPS server answering `POST …/responses` with one streamed
 * response whose values are {@link RESPONSES_MOCK}.
 */
import { ChildProcess, spawn } from 'node:child_process';

/** What the server answers: response id, model and usage (tokens) of every response. */
export const RESPONSES_MOCK = { id: 'resp_agentsight_1', model: 'gpt-test', input_tokens: 11, output_tokens: 3 } as const;

/**
 * HTTPS server (HTTP/1.1) answering POST /v1/responses with a minimal valid Responses stream (text `answer`, usage),
 * anything else 404. Prints its port, then one JSON line per request on stderr.
 */
export async function startResponsesServer(key: string, cert: string, answer: string): Promise<{ server: ChildProcess; port: number; log: () => string }> {
  const js = `
    const https = require('https'), fs = require('fs');
    const answer = process.argv[3];
    const srv = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]), ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        console.error(JSON.stringify({ method: req.method, url: req.url, bytes: body.length }));
        if (req.method !== 'POST' || !req.url.endsWith('/responses')) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{}'); return; }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const id = '${RESPONSES_MOCK.id}';
        const ev = (type, o) => res.write('event: ' + type + '\\ndata: ' + JSON.stringify({ type, ...o }) + '\\n\\n');
        const item = { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: answer, annotations: [] }] };
        ev('response.created', { response: { id, object: 'response', status: 'in_progress', model: '${RESPONSES_MOCK.model}' } });
        ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: answer });
        ev('response.output_item.done', { output_index: 0, item });
        ev('response.completed', { response: { id, object: 'response', status: 'completed', model: '${RESPONSES_MOCK.model}', output: [item],
          usage: { input_tokens: ${RESPONSES_MOCK.input_tokens}, input_tokens_details: { cached_tokens: 0 }, output_tokens: ${RESPONSES_MOCK.output_tokens}, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: ${RESPONSES_MOCK.input_tokens + RESPONSES_MOCK.output_tokens} } } });
        res.end();
      });
    });
    srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));`;
  const server = spawn(process.execPath, ['-e', js, key, cert, answer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    server.once('exit', (c) => reject(new Error(`server exited ${c}: ${log}`)));
  });
  return { server, port, log: () => log };
}
