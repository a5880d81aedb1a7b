/**
 * A thin Alibaba Cloud SLS PutLogs client (`POST /logstores/<logstore>/shards/lb`, API version 0.6.0):
 * - body: a protobuf `LogGroup` (SLS's log.proto: LogGroup Logs=1, Topic=3, Source=4, LogTags=6; Log Time=1,
 *   Contents=2, TimeNs=4 fixed32; Content/LogTag Key=1, Value=2) encoded with protobufjs, compressed with lz4 (a raw
 *   LZ4 block: lz4-napi's output without its 4-byte size prefix) or deflate (zlib, Node's zlib);
 * - headers: `x-log-apiversion`, `x-log-bodyrawsize` (uncompressed size), `x-log-compresstype`,
 *   `x-log-signaturemethod: hmac-sha1`, `Content-MD5` (upper-case hex MD5 of the sent body), `Content-Type:
 *   application/x-protobuf`, `Date` (RFC 1123), `x-acs-security-token` with STS, and `Authorization: LOG
 *   <AccessKeyId>:<signature>`, the signature being base64 HMAC-SHA1 (AccessKey secret) of
 *   `VERB\nCONTENT-MD5\nCONTENT-TYPE\nDATE\n` + the `x-log-*`/`x-acs-*` headers sorted by name as `name:value\n` +
 *   the resource ({@link slsSignature}).
 * Why not `aliyun-sdk` (README, "SLS logstore export"): it cannot compress with lz4 and brings old dependencies
 * (`xml2js` 0.4.4, `node_memcached`); `@alicloud/log` sends uncompressed bodies and cannot reach a test server.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { deflateSync } from 'node:zlib';
import { compressSync } from 'lz4-napi';
import * as protobuf from 'protobufjs';
import type { SlsCompression, SlsLogConfig } from './config';

const root = protobuf.Root.fromJSON({
  nested: {
    sls: {
      nested: {
        Content: { fields: { Key: { type: 'string', id: 1 }, Value: { type: 'string', id: 2 } } },
        Log: { fields: { Time: { type: 'uint32', id: 1 }, Contents: { rule: 'repeated', type: 'Content', id: 2 }, TimeNs: { type: 'fixed32', id: 4 } } },
        LogTag: { fields: { Key: { type: 'string', id: 1 }, Value: { type: 'string', id: 2 } } },
        LogGroup: {
          fields: {
            Logs: { rule: 'repeated', type: 'Log', id: 1 },
            Topic: { type: 'string', id: 3 },
            Source: { type: 'string', id: 4 },
            LogTags: { rule: 'repeated', type: 'LogTag', id: 6 },
          },
        },
      },
    },
  },
});
const LogType = root.lookupType('sls.Log');
const LogGroupType = root.lookupType('sls.LogGroup');

/** One log of a {@link SlsLogGroup}: seconds, nanoseconds within the second, contents. */
export interface SlsWireLog {
  time: number;
  timeNs: number;
  contents: Array<{ key: string; value: string }>;
}

/** What one PutLogs request carries. */
export interface SlsLogGroup {
  topic: string;
  source: string;
  tags: Array<{ key: string; value: string }>;
  logs: SlsWireLog[];
}

function wireLog(l: SlsWireLog): Record<string, unknown> {
  return { Time: l.time, TimeNs: l.timeNs, Contents: l.contents.map((c) => ({ Key: c.key, Value: c.value })) };
}

/** Encoded size of one log inside a LogGroup, bytes (its own bytes plus the field tag and length). */
export function encodedLogSize(l: SlsWireLog): number {
  const n = LogType.encode(LogType.fromObject(wireLog(l))).finish().length;
  return n + 1 + (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);
}

/** The protobuf bytes of a LogGroup. */
export function encodeLogGroup(g: SlsLogGroup): Uint8Array {
  return LogGroupType.encode(LogGroupType.fromObject({
    Logs: g.logs.map(wireLog),
    Topic: g.topic,
    Source: g.source,
    LogTags: g.tags.map((t) => ({ Key: t.key, Value: t.value })),
  })).finish();
}

/** Compresses a PutLogs body: lz4 as a raw block (lz4-napi's 4-byte size prefix stripped), deflate as zlib. */
export function compressBody(raw: Uint8Array, how: SlsCompression): Buffer {
  return how === 'lz4' ? compressSync(Buffer.from(raw)).subarray(4) : deflateSync(raw);
}

/**
 * SLS's v1 request signature: base64 HMAC-SHA1 with `secret` of `VERB\nCONTENT-MD5\nCONTENT-TYPE\nDATE\n`, then each
 * `x-log-*` / `x-acs-*` header (names lower-case, sorted) as `name:value\n`, then `resource` (path, and the query
 * sorted by key as `?k=v&…` when there is one).
 */
export function slsSignature(secret: string, verb: string, contentMd5: string, contentType: string, date: string, headers: Record<string, string>, resource: string): string {
  const canon = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => k.startsWith('x-log-') || k.startsWith('x-acs-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}:${v}\n`)
    .join('');
  return createHmac('sha1', secret).update(`${verb}\n${contentMd5}\n${contentType}\n${date}\n${canon}${resource}`, 'utf8').digest('base64');
}

/** SLS's answer to one PutLogs request. */
export interface SlsResponse {
  status: number;
  /** `errorCode` of the JSON error body (e.g. `WriteQuotaExceed`, `PostBodyInvalid`), null on success or without one. */
  errorCode: string | null;
  errorMessage: string | null;
  /** `x-log-requestid`. */
  requestId: string | null;
}

/** PutLogs over Node's http/https with keep-alive. Never logs a header (the Authorization and STS token are secrets). */
export class SlsClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly url: URL;

  constructor(private readonly cfg: SlsLogConfig) {
    this.url = new URL(`${cfg.baseUrl}/logstores/${encodeURIComponent(cfg.logstore)}/shards/lb`);
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /** Resource path that is signed. */
  get resource(): string {
    return `/logstores/${this.cfg.logstore}/shards/lb`;
  }

  /**
   * Sends one LogGroup. Resolves with SLS's answer (any status); rejects on a network error or when no answer came
   * within the timeout (both transient).
   */
  putLogs(group: SlsLogGroup): Promise<SlsResponse> {
    const raw = encodeLogGroup(group);
    const body = compressBody(raw, this.cfg.compress);
    const contentType = 'application/x-protobuf';
    const md5 = createHash('md5').update(body).digest('hex').toUpperCase();
    const date = new Date().toUTCString();
    const signed: Record<string, string> = {
      'x-log-apiversion': '0.6.0',
      'x-log-bodyrawsize': String(raw.length),
      'x-log-compresstype': this.cfg.compress,
      'x-log-signaturemethod': 'hmac-sha1',
      ...(this.cfg.securityToken ? { 'x-acs-security-token': this.cfg.securityToken } : {}),
    };
    const sig = slsSignature(this.cfg.accessKeySecret, 'POST', md5, contentType, date, signed, this.resource);
    const headers = {
      ...signed,
      'content-type': contentType,
      'content-md5': md5,
      'content-length': String(body.length),
      date,
      authorization: `LOG ${this.cfg.accessKeyId}:${sig}`,
    };
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(this.url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          let code: string | null = null;
          let message: string | null = null;
          const text = Buffer.concat(chunks).toString('utf8');
          if (text) {
            try {
              const j = JSON.parse(text) as { errorCode?: unknown; errorMessage?: unknown };
              code = typeof j.errorCode === 'string' ? j.errorCode : null;
              message = typeof j.errorMessage === 'string' ? j.errorMessage : null;
            } catch {
              message = text.slice(0, 300);
            }
          }
          const rid = res.headers['x-log-requestid'];
          resolve({ status: res.statusCode ?? 0, errorCode: code, errorMessage: message, requestId: typeof rid === 'string' ? rid : null });
        });
      });
      req.setTimeout(this.cfg.timeoutMs, () => req.destroy(new Error(`no answer within ${this.cfg.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
