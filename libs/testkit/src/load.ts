/** Synthetic raw records for load: what the probe would publish for a call, without capture. */
import type { RawSslRecord } from '@agentsight/contracts';

/** Options of {@link streamedCallRecords}. */
export interface StreamedCallOptions {
  /** The request's user message (default `Invent a holiday`), e.g. to plant a string to look for in storage. */
  prompt?: string;
  /** The producer's host name (default `bench`): one per simulated host. */
  host?: string;
}

/**
 * Raw SSL records of one streamed chat completion on connection `i` (host `opts.host`, default `bench`; pid 100000 + i, partition i % 8),
 * as the probe publishes them: the request, the response head, one chunked record per SSE event of `events` (e.g. a
 * corpus fixture's `body`), the last chunk; `seq` from `seqBase`, stamped now. For load generators (bench/) and tests
 * that need many calls without capture.
 */
export function streamedCallRecords(i: number, events: Buffer[], seqBase: number, opts: StreamedCallOptions = {}): RawSslRecord[] {
  const host = opts.host ?? 'bench';
  const pid = 100000 + i;
  const ssl = 0x7f0000000000 + i * 0x1000;
  const body = Buffer.from(JSON.stringify({ model: 'gpt-4.1-nano', stream: true, messages: [{ role: 'user', content: opts.prompt ?? 'Invent a holiday' }] }));
  const req = Buffer.concat([Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  const chunks = [
    { dir: 'write' as const, data: req },
    { dir: 'read' as const, data: Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n') },
    ...events.map((e) => ({ dir: 'read' as const, data: Buffer.concat([Buffer.from(e.length.toString(16) + '\r\n'), e, Buffer.from('\r\n')]) })),
    { dir: 'read' as const, data: Buffer.from('0\r\n\r\n') },
  ];
  const off = { write: 0, read: 0 };
  const partition = i % 8;
  return chunks.map((c, k) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const r: RawSslRecord = {
      v: 1, kind: 'ssl', host, boot_id: 'bench-boot', run: 1, seq: seqBase + k, ts_boot_ns: now, ts_wall_ns: now, pid, tid: pid, uid: 0,
      comm: 'bench', ssl, fn: c.dir === 'write' ? 'SSL_write' : 'SSL_read', dir: c.dir, len: c.data.length, frag_offset: 0,
      frag_total: c.data.length, stream_offset: off[c.dir], partition, data: c.data,
    };
    off[c.dir] += c.data.length;
    return r;
  });
}
