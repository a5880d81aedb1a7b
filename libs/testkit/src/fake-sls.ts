/**
 * A local fake of Alibaba Cloud SLS's PutLogs endpoint (HTTP on 127.0.0.1) for tests, written from the public protocol
 * (shared/notes/platform.md "Alibaba Cloud SLS PutLogs"), independently of the exporter's client: it checks
 * `Content-MD5` against the body, recomputes the `LOG <id>:<signature>` with the known secret, decompresses (lz4 raw
 * block or deflate), checks `x-log-bodyrawsize`, decodes the protobuf LogGroup (its own copy of SLS's log.proto) and
 * records every request. A request failing a check is answered like SLS would (400 / 401) and listed in `problems`.
 * `respond` scripts the answer of a well-formed request (default 200); it may wait (a slow answer).
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { inflateSync } from 'node:zlib';
import { uncompressSync } from 'lz4-napi';
import * as protobuf from 'protobufjs';

const LOG_PROTO = `
syntax = "proto2";
package sls;
message Content { required string Key = 1; required string Value = 2; }
message Log { required uint32 Time = 1; repeated Content Contents = 2; optional fixed32 TimeNs = 4; }
message LogTag { required string Key = 1; required string Value = 2; }
message LogGroup { repeated Log Logs = 1; optional string Reserved = 2; optional string Topic = 3; optional string Source = 4; repeated LogTag LogTags = 6; }
`;
const LogGroup = protobuf.parse(LOG_PROTO).root.lookupType('sls.LogGroup');

/** One decoded log. */
export interface FakeSlsLog {
  time: number;
  timeNs: number;
  /** Contents as a map (a repeated key would be listed in `problems`). */
  contents: Record<string, string>;
}

/** One request the fake got. */
export interface FakeSlsRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Status answered. */
  answered: number;
  errorCode: string | null;
  topic: string;
  source: string;
  tags: Record<string, string>;
  logs: FakeSlsLog[];
}

/** A scripted answer: status, and SLS's error code for non-200. */
export interface FakeSlsAnswer {
  status: number;
  errorCode?: string;
  errorMessage?: string;
}

export interface FakeSls {
  /** `http://127.0.0.1:<port>` (use as the whole endpoint). */
  url: string;
  requests: FakeSlsRequest[];
  /** Every check that failed, one line each (tests assert it stays empty). */
  problems: string[];
  /** Answer of a well-formed request (default 200). */
  respond: (r: FakeSlsRequest) => FakeSlsAnswer | Promise<FakeSlsAnswer>;
  /** Logs of requests answered 200, in order (duplicates kept). */
  accepted(): Array<FakeSlsLog & { packId: string; topic: string; source: string; tags: Record<string, string> }>;
  close(): Promise<void>;
}

/** The whole body of a request (test servers); rejects on a stream error. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The v1 signature as SLS computes it (see the module doc). */
function expectedSignature(secret: string, req: IncomingMessage, md5: string): string {
  const h = req.headers;
  const canon = Object.keys(h).filter((k) => k.startsWith('x-log-') || k.startsWith('x-acs-')).sort().map((k) => `${k}:${String(h[k])}\n`).join('');
  const u = new URL(req.url ?? '/', 'http://x');
  const query = [...u.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const resource = decodeURIComponent(u.pathname) + (query ? `?${query}` : '');
  const text = `${req.method}\n${md5}\n${h['content-type'] ?? ''}\n${h.date ?? ''}\n${canon}${resource}`;
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

/**
 * Starts the fake on 127.0.0.1 (a free port). `accessKeyId`/`accessKeySecret`: the credentials requests must be
 * signed with; `securityToken`: when set, requests must carry it as `x-acs-security-token`.
 */
export async function startFakeSls(opts: { accessKeyId: string; accessKeySecret: string; securityToken?: string; logstore?: string }): Promise<FakeSls> {
  const requests: FakeSlsRequest[] = [];
  const problems: string[] = [];
  const fake: FakeSls = {
    url: '',
    requests,
    problems,
    respond: () => ({ status: 200 }),
    accepted: () => requests.filter((r) => r.answered === 200).flatMap((r) => r.logs.map((l) => ({ ...l, packId: r.tags.__pack_id__ ?? '', topic: r.topic, source: r.source, tags: r.tags }))),
    close: () => new Promise((r) => server.close(() => r())),
  };
  const fail = (res: import('node:http').ServerResponse, status: number, code: string, message: string) => {
    problems.push(`${code}: ${message}`);
    res.writeHead(status, { 'content-type': 'application/json', 'x-log-requestid': 'fake' }).end(JSON.stringify({ errorCode: code, errorMessage: message }));
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const h = req.headers;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method !== 'POST' || !/^\/logstores\/[^/]+\/shards\/lb$/.test(path)) return fail(res, 404, 'InvalidPath', `${req.method} ${path}`);
      if (opts.logstore && path !== `/logstores/${opts.logstore}/shards/lb`) return fail(res, 404, 'LogStoreNotExist', path);
      const md5 = createHash('md5').update(raw).digest('hex').toUpperCase();
      if (h['content-md5'] !== md5) return fail(res, 400, 'InvalidContentMD5', `got ${String(h['content-md5'])}, body is ${md5}`);
      if (h['x-log-apiversion'] !== '0.6.0') return fail(res, 400, 'InvalidAPIVersion', String(h['x-log-apiversion']));
      if (h['x-log-signaturemethod'] !== 'hmac-sha1') return fail(res, 400, 'InvalidSignatureMethod', String(h['x-log-signaturemethod']));
      if (h['content-type'] !== 'application/x-protobuf') return fail(res, 400, 'InvalidContentType', String(h['content-type']));
      if (!h.date || Number.isNaN(Date.parse(String(h.date)))) return fail(res, 400, 'InvalidDate', String(h.date));
      if (opts.securityToken !== undefined && h['x-acs-security-token'] !== opts.securityToken) return fail(res, 401, 'SecurityTokenMismatch', 'x-acs-security-token');
      const auth = String(h.authorization ?? '');
      const want = `LOG ${opts.accessKeyId}:${expectedSignature(opts.accessKeySecret, req, md5)}`;
      if (auth !== want) return fail(res, 401, 'SignatureNotMatch', 'signature does not match');
      const rawSize = Number(h['x-log-bodyrawsize']);
      let plain: Buffer;
      try {
        const how = h['x-log-compresstype'];
        if (how === 'lz4') {
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32LE(rawSize, 0);
          plain = uncompressSync(Buffer.concat([prefix, raw]));
        } else if (how === 'deflate') plain = inflateSync(raw);
        else if (how === undefined) plain = raw;
        else return fail(res, 400, 'InvalidCompressType', String(how));
      } catch (err) {
        return fail(res, 400, 'PostBodyUncompressError', (err as Error).message);
      }
      if (plain.length !== rawSize) return fail(res, 400, 'InvalidBodyRawSize', `header ${rawSize}, body ${plain.length}`);
      if (rawSize > 3 * 1024 * 1024) return fail(res, 413, 'PostBodyTooLarge', `${rawSize} bytes`);
      let group: { Logs?: Array<{ Time: number; TimeNs?: number; Contents?: Array<{ Key: string; Value: string }> }>; Topic?: string; Source?: string; LogTags?: Array<{ Key: string; Value: string }> };
      try {
        group = LogGroup.toObject(LogGroup.decode(plain), { defaults: false }) as typeof group;
      } catch (err) {
        return fail(res, 400, 'PostBodyInvalid', (err as Error).message);
      }
      const logs = (group.Logs ?? []).map((l) => {
        const contents: Record<string, string> = {};
        for (const c of l.Contents ?? []) {
          if (c.Key in contents) problems.push(`repeated key ${c.Key}`);
          contents[c.Key] = c.Value;
        }
        const size = (l.Contents ?? []).reduce((n, c) => n + Buffer.byteLength(c.Key) + Buffer.byteLength(c.Value), 0);
        if (size > 1024 * 1024) problems.push(`log of ${size} bytes`);
        return { time: l.Time, timeNs: l.TimeNs ?? 0, contents };
      });
      if (logs.length > 4096) return fail(res, 400, 'InvalidLogSize', `${logs.length} logs`);
      const tags: Record<string, string> = {};
      for (const t of group.LogTags ?? []) tags[t.Key] = t.Value;
      const rec: FakeSlsRequest = { path, headers: h, answered: 0, errorCode: null, topic: group.Topic ?? '', source: group.Source ?? '', tags, logs };
      requests.push(rec);
      const a = await fake.respond(rec);
      rec.answered = a.status;
      rec.errorCode = a.errorCode ?? null;
      if (a.status === 200) return void res.writeHead(200, { 'x-log-requestid': `fake-${requests.length}` }).end();
      res.writeHead(a.status, { 'content-type': 'application/json', 'x-log-requestid': `fake-${requests.length}` })
        .end(JSON.stringify({ errorCode: a.errorCode ?? 'InternalServerError', errorMessage: a.errorMessage ?? 'scripted' }));
    })().catch((err) => {
      problems.push(`fake failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  fake.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return fake;
}
