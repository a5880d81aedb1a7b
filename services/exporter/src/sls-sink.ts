/**
 * Sinks of SLS logs: {@link SlsSink} (the logstore, through {@link SlsClient}) and {@link LogtailSink} (JSON lines in a
 * size-rotated file that iLogtail ships).
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ItemOutcome, ItemSink } from './engine';
import { packIdOf, type SlsLog } from './domain/sls-logs';
import { INSTRUMENTATION_SCOPE } from './domain/spans';
import { encodedLogSize, type SlsClient, type SlsResponse } from './sls-client';

/** SLS PutLogs limits: logs per request, raw (uncompressed) bytes per request. */
export const SLS_MAX_LOGS = 4096;
export const SLS_MAX_RAW_BYTES = 3 * 1024 * 1024;
/** Room kept below {@link SLS_MAX_RAW_BYTES} for topic, source and tags. */
const GROUP_HEADROOM = 4096;

/** Tag keys every LogGroup carries besides `__pack_id__`. */
export const SlsTag = { version: 'agentsight.version', host: 'agentsight.host', packId: '__pack_id__' } as const;

/**
 * `rejected` for a request SLS refuses as invalid (400 Bad Request, e.g. `PostBodyInvalid`, `InvalidTimestamp`; 413
 * `PostBodyTooLarge`); everything else that is not 200 is `transient` and retried: 5xx, 403 `WriteQuotaExceed` /
 * `ShardWriteQuotaExceed` / `ServerBusy` (SLS throttles with 403, not 429), and also auth or missing-logstore answers
 * (401, other 403s, 404), so a misconfiguration loses nothing once fixed.
 */
export function classifySls(r: SlsResponse): ItemOutcome {
  if (r.status === 200) return { status: 'ok' };
  const error = `HTTP ${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}${r.errorMessage ? `: ${r.errorMessage}` : ''}${r.requestId ? ` (request ${r.requestId})` : ''}`;
  return { status: r.status === 400 || r.status === 413 ? 'rejected' : 'transient', error };
}

const sizes = new WeakMap<SlsLog, number>();
function sizeOf(l: SlsLog): number {
  let n = sizes.get(l);
  if (n === undefined) {
    n = encodedLogSize(l);
    sizes.set(l, n);
  }
  return n;
}

/** Splits logs (of one host) into requests of ≤ `maxLogs` logs and ≤ `maxBytes` raw bytes each, in order. */
export function chunkLogs(logs: Array<{ log: SlsLog; i: number }>, maxLogs = SLS_MAX_LOGS, maxBytes = SLS_MAX_RAW_BYTES - GROUP_HEADROOM): Array<Array<{ log: SlsLog; i: number }>> {
  const out: Array<Array<{ log: SlsLog; i: number }>> = [];
  let cur: Array<{ log: SlsLog; i: number }> = [];
  let bytes = 0;
  for (const x of logs) {
    const n = sizeOf(x.log);
    if (cur.length && (cur.length >= maxLogs || bytes + n > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(x);
    bytes += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * The SLS logstore as an {@link ItemSink}: logs are grouped by host (a LogGroup has one `__topic__`/`__source__`,
 * both the host) and split per {@link chunkLogs}; each request carries the tags `agentsight.version`,
 * `agentsight.host` and a `__pack_id__` derived from its logs' ids ({@link packIdOf}), so a retried request has the
 * same pack id and duplicates (SLS does not deduplicate) can be found. A request SLS rejects as invalid is split in
 * halves and sent again down to single logs, so only the bad logs come out `rejected`; a transient failure marks
 * every log of that request `transient`.
 */
export class SlsSink implements ItemSink<SlsLog> {
  /** Requests sent (for logs and tests). */
  requests = 0;

  constructor(private readonly client: SlsClient) {}

  async export(logs: SlsLog[]): Promise<ItemOutcome[]> {
    const out: ItemOutcome[] = new Array(logs.length);
    const byHost = new Map<string, Array<{ log: SlsLog; i: number }>>();
    logs.forEach((log, i) => {
      const g = byHost.get(log.host) ?? [];
      g.push({ log, i });
      byHost.set(log.host, g);
    });
    for (const [host, group] of byHost) {
      for (const chunk of chunkLogs(group)) {
        const outcomes = await this.send(host, chunk.map((c) => c.log));
        chunk.forEach((c, k) => { out[c.i] = outcomes[k]!; });
      }
    }
    return out;
  }

  private async send(host: string, logs: SlsLog[]): Promise<ItemOutcome[]> {
    let o: ItemOutcome;
    try {
      this.requests++;
      o = classifySls(await this.client.putLogs({
        topic: host,
        source: host,
        tags: [{ key: SlsTag.version, value: INSTRUMENTATION_SCOPE.version }, { key: SlsTag.host, value: host }, { key: SlsTag.packId, value: packIdOf(logs) }],
        logs,
      }));
    } catch (err) {
      o = { status: 'transient', error: (err as Error).message || 'PutLogs failed' };
    }
    if (o.status !== 'rejected' || logs.length === 1) return logs.map(() => ({ ...o }));
    const mid = Math.ceil(logs.length / 2);
    return [...(await this.send(host, logs.slice(0, mid))), ...(await this.send(host, logs.slice(mid)))];
  }

  async shutdown(): Promise<void> {
    this.client.close();
  }
}

/** One Logtail JSON line of a log: `__time__`, `__topic__`, `__source__` (the host), then its contents. */
export function logtailLine(l: SlsLog): string {
  const o: Record<string, string> = { __time__: String(l.time), __topic__: l.host, __source__: l.host };
  for (const c of l.contents) o[c.key] = c.value;
  return JSON.stringify(o);
}

/**
 * The Logtail file as an {@link ItemSink}: each batch is appended as JSON lines ({@link logtailLine}) and fsynced
 * before its logs count as delivered. Before a write that would make the file larger than `maxBytes`, it is rotated:
 * `<path>.<files-1>` → `<path>.<files>` …, `<path>` → `<path>.1` (iLogtail follows rotations by inode). A failed
 * write is transient (retried).
 */
export class LogtailSink implements ItemSink<SlsLog> {
  constructor(private readonly path: string, private readonly maxBytes: number, private readonly files: number) {
    mkdirSync(dirname(path), { recursive: true });
  }

  private rotate(): void {
    const last = `${this.path}.${this.files}`;
    if (existsSync(last)) unlinkSync(last);
    for (let k = this.files - 1; k >= 1; k--) if (existsSync(`${this.path}.${k}`)) renameSync(`${this.path}.${k}`, `${this.path}.${k + 1}`);
    renameSync(this.path, `${this.path}.1`);
  }

  async export(logs: SlsLog[]): Promise<ItemOutcome[]> {
    try {
      const text = Buffer.from(logs.map((l) => `${logtailLine(l)}\n`).join(''), 'utf8');
      const size = existsSync(this.path) ? statSync(this.path).size : 0;
      if (size > 0 && size + text.length > this.maxBytes) this.rotate();
      const fd = openSync(this.path, 'a', 0o600);
      try {
        let off = 0;
        while (off < text.length) off += writeSync(fd, text, off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return logs.map(() => ({ status: 'ok' }));
    } catch (err) {
      const error = `cannot write ${this.path}: ${(err as Error).message}`;
      return logs.map(() => ({ status: 'transient', error }));
    }
  }

  async shutdown(): Promise<void> {}
}
