import { BadRequestException, Controller, Get, NotFoundException, Param, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import { interval, map, merge, Observable } from 'rxjs';
import {
  CALL_SORTS, getCall, getExchange, getSession, sessionResources, overview, pageAudit, pageCalls, pageSessions, resolveRange, SESSION_SORTS, timeSeries,
  type NsRange, type SortSpec,
} from '@agentsight/clickhouse';
import type { CaptureStatus } from '@agentsight/contracts';
import { defaultPriceTable, priceCall } from '@agentsight/pricing';
import { StageRuntime } from '@agentsight/jetstream';
import { Storage } from '../storage/storage';
import { LiveBus } from './live';
import { BatchLatency } from '../metrics/batch';
import { captureSources, readCaptureStatus } from '../metrics/capture';

/** A 400 with the reason when `f` throws (bad time, bad cursor, …). */
function bad<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new BadRequestException((err as Error).message);
  }
}

function range(from?: string, to?: string): NsRange {
  return bad(() => resolveRange(from, to));
}

function limitParam(s: string | undefined, dflt = 50): number {
  if (s === undefined || s === '') return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new BadRequestException(`limit must be an integer from 1 to 500: ${s}`);
  return n;
}

function pidParam(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  if (!/^\d+$/.test(s)) throw new BadRequestException(`pid must be a non-negative integer: ${s}`);
  return Number(s);
}

function sortParam(sort: string | undefined, order: string | undefined, keys: Record<string, string>): SortSpec | undefined {
  if (!sort && !order) return undefined;
  if (sort && !(sort in keys)) throw new BadRequestException(`sort must be one of ${Object.keys(keys).join(', ')}`);
  if (order && order !== 'asc' && order !== 'desc') throw new BadRequestException('order must be asc or desc');
  return { key: sort || Object.keys(keys)[0], dir: (order || 'desc') as 'asc' | 'desc' };
}

function cursorParam(s: string | undefined): string | undefined {
  if (!s) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new BadRequestException('bad cursor');
  return s;
}

/** `v`, or a 404 naming the conversation when there is no such session. */
function sessionFound<T>(v: T | null, conversation: string): T {
  if (v === null) throw new NotFoundException(`no agent session ${conversation}`);
  return v;
}

const RANGE_DOC = 'ISO 8601, ms since the epoch, or a duration back from now (15m, 24h, 7d)';

/**
 * The dashboard's read API (`agentsight serve`; contracts in `@agentsight/contracts` dashboard.ts, OpenAPI at
 * `/api/docs`): overview, time series, cursor-paged lists with filters and search, one call's and one session's detail,
 * capture status, and the live channel (`GET /api/live`, Server-Sent Events). Bad parameters answer 400 with the reason.
 */
@ApiTags('dashboard')
@Controller('api')
export class DashboardController {
  constructor(private readonly storage: Storage, private readonly live: LiveBus, private readonly rt: StageRuntime, private readonly batches: BatchLatency) {}

  @Get('overview')
  @ApiQuery({ name: 'from', required: false, description: `${RANGE_DOC}; default 24h` })
  @ApiQuery({ name: 'to', required: false, description: `${RANGE_DOC}; default now` })
  @ApiOkResponse({ description: 'Overview: KPI cards (cost USD, null = unpriced, with the unpriced count), latency, top agents/models/tools/commands' })
  overview(@Query('from') from?: string, @Query('to') to?: string) {
    return overview(this.storage.client, range(from, to));
  }

  @Get('timeseries')
  @ApiQuery({ name: 'from', required: false, description: RANGE_DOC })
  @ApiQuery({ name: 'to', required: false, description: RANGE_DOC })
  @ApiQuery({ name: 'interval', required: false, description: 'bucket width in seconds (default: at most 120 buckets)' })
  @ApiOkResponse({ description: 'TimeSeries: calls, tokens, cost and latency p50/p95 per bucket and model (toStartOfInterval in ClickHouse)' })
  timeseries(@Query('from') from?: string, @Query('to') to?: string, @Query('interval') iv?: string) {
    const r = range(from, to);
    let intervalSeconds: number | undefined;
    if (iv !== undefined && iv !== '') {
      intervalSeconds = Number(iv);
      if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1) throw new BadRequestException(`interval must be a positive integer (seconds): ${iv}`);
      if (Number((r.toNs - r.fromNs) / 1_000_000_000n) / intervalSeconds > 2000) throw new BadRequestException('interval too small for the range (more than 2000 buckets)');
    }
    return timeSeries(this.storage.client, r, { intervalSeconds });
  }

  @Get('llm-calls')
  @ApiQuery({ name: 'cursor', required: false }) @ApiQuery({ name: 'limit', required: false, description: '1..500, default 50' })
  @ApiQuery({ name: 'provider', required: false }) @ApiQuery({ name: 'model', required: false }) @ApiQuery({ name: 'agent', required: false })
  @ApiQuery({ name: 'pid', required: false }) @ApiQuery({ name: 'conversation', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['ok', 'error'] }) @ApiQuery({ name: 'error', required: false, description: 'error.type' })
  @ApiQuery({ name: 'q', required: false, description: 'search: answer text, tool calls, response id, model, request body (prompts)' })
  @ApiQuery({ name: 'from', required: false, description: RANGE_DOC }) @ApiQuery({ name: 'to', required: false, description: RANGE_DOC })
  @ApiQuery({ name: 'sort', required: false, enum: Object.keys(CALL_SORTS) }) @ApiQuery({ name: 'order', required: false, enum: ['desc', 'asc'] })
  @ApiOkResponse({ description: 'Page<CallSummary>, newest first (or by `sort`)' })
  calls(@Query() p: Record<string, string | undefined>) {
    if (p.status && p.status !== 'ok' && p.status !== 'error') throw new BadRequestException('status must be ok or error');
    return bad(() => pageCalls(this.storage.client, {
      provider: p.provider || undefined, model: p.model || undefined, agent: p.agent || undefined, pid: pidParam(p.pid),
      conversation: p.conversation || undefined, status: (p.status || undefined) as 'ok' | 'error' | undefined, error: p.error || undefined, q: p.q || undefined,
      range: p.from || p.to ? range(p.from, p.to) : undefined,
    }, { cursor: cursorParam(p.cursor), limit: limitParam(p.limit), sort: sortParam(p.sort, p.order, CALL_SORTS) })).catch(rethrowBad);
  }

  @Get('llm-calls/:id')
  @ApiOkResponse({ description: 'CallDetail: the call, its exchange (headers, bodies as text, redacted), tool uses, caused actions, cost breakdown' })
  async call(@Param('id') id: string) {
    const d = await getCall(this.storage.client, id);
    if (!d) throw new NotFoundException(`no LLM call ${id}`);
    const ex = await getExchange(this.storage.client, d.exchange_id);
    const c = d.call;
    // The stored call keeps its total and price id; the parts are recomputed from the same price table and shown only when they add up.
    const priced = priceCall({
      provider: c['gen_ai.provider.name'], model: c['gen_ai.response.model'], request_model: c['gen_ai.request.model'], raw_usage: c.raw_usage,
      usage: {
        input_tokens: c['gen_ai.usage.input_tokens'], output_tokens: c['gen_ai.usage.output_tokens'], cache_read_input_tokens: c['gen_ai.usage.cache_read.input_tokens'],
        cache_creation_input_tokens: c['gen_ai.usage.cache_creation.input_tokens'], reasoning_output_tokens: c['gen_ai.usage.reasoning.output_tokens'],
      } as never,
    }, defaultPriceTable());
    const matches = priced !== null && c.cost_usd !== null && Math.abs(priced.cost_usd - c.cost_usd) < 1e-9 && priced.price_id === d.price_id;
    return {
      ...d,
      cost: c.cost_usd === null
        ? { cost_usd: null, price_id: null, breakdown: null, note: 'unpriced: no price-table entry for this provider and model, or no token counts' }
        : { cost_usd: c.cost_usd, price_id: d.price_id, breakdown: matches ? priced!.breakdown : null, note: matches ? null : 'breakdown unavailable: the price table changed since the call was priced' },
      exchange: ex && {
        exchange_id: ex.exchange_id, method: ex.method, target: ex.target, server_address: ex.server_address, status: ex.status, reason: ex.reason,
        request_headers: ex.request_headers, response_headers: ex.response_headers, streaming: ex.streaming, sse_events: ex.sse_events,
        request_body: bodyText(ex.request_body), response_body: bodyText(ex.response_body),
        request_body_incomplete: ex.request_body_incomplete, response_body_incomplete: ex.response_body_incomplete,
        process_argv: ex.process_argv, process_exe: ex.process_exe, pid: ex.pid, ppid: ex.ppid, uid: ex.uid,
      },
    };
  }

  @Get('agent-sessions')
  @ApiQuery({ name: 'cursor', required: false }) @ApiQuery({ name: 'limit', required: false }) @ApiQuery({ name: 'agent', required: false })
  @ApiQuery({ name: 'model', required: false }) @ApiQuery({ name: 'q', required: false, description: 'search: prompts, answers, tool names/arguments/results, agent, conversation id' })
  @ApiQuery({ name: 'from', required: false, description: RANGE_DOC }) @ApiQuery({ name: 'to', required: false, description: RANGE_DOC })
  @ApiQuery({ name: 'sort', required: false, enum: Object.keys(SESSION_SORTS) }) @ApiQuery({ name: 'order', required: false, enum: ['desc', 'asc'] })
  @ApiOkResponse({ description: 'Page<SessionEntry> (invoke_agent events with totals, the first user prompt, live or ended), newest activity first (or by `sort`)' })
  sessions(@Query() p: Record<string, string | undefined>) {
    return bad(() => pageSessions(this.storage.client, {
      agent: p.agent || undefined, model: p.model || undefined, q: p.q || undefined, range: p.from || p.to ? range(p.from, p.to) : undefined,
    }, { cursor: cursorParam(p.cursor), limit: limitParam(p.limit), sort: sortParam(p.sort, p.order, SESSION_SORTS) })).catch(rethrowBad);
  }

  @Get('agent-sessions/:conversation')
  @ApiOkResponse({ description: 'SessionDetail: the session, its calls with their new messages, tool uses, execute_tool spans, the process tree\'s audit records with causal links' })
  async session(@Param('conversation') conversation: string) {
    return sessionFound(await getSession(this.storage.client, conversation), conversation);
  }

  @Get('agent-sessions/:conversation/resources')
  @ApiOkResponse({ description: "SessionResources: the agent's process-tree samples around the session (CPU %, RSS, processes) and each tool use's CPU seconds and peak RSS (null with resources_note when not sampled)" })
  async sessionResources(@Param('conversation') conversation: string) {
    return sessionFound(await sessionResources(this.storage.client, conversation), conversation);
  }

  @Get('processes')
  @ApiQuery({ name: 'cursor', required: false }) @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'type', required: false, description: 'process | file | net, comma-separated (default all three)' })
  @ApiQuery({ name: 'action', required: false }) @ApiQuery({ name: 'pid', required: false, description: 'this pid or its children' })
  @ApiQuery({ name: 'comm', required: false }) @ApiQuery({ name: 'q', required: false, description: 'substring of the summary (argv, path, address)' })
  @ApiQuery({ name: 'from', required: false, description: RANGE_DOC }) @ApiQuery({ name: 'to', required: false, description: RANGE_DOC })
  @ApiOkResponse({ description: 'Page<AuditEntry> with caused_by (tool use and LLM call) where known' })
  processes(@Query() p: Record<string, string | undefined>) {
    const types = p.type ? p.type.split(',') : undefined;
    if (types?.some((t) => !['process', 'file', 'net'].includes(t))) throw new BadRequestException('type must be process, file or net (comma-separated)');
    return bad(() => pageAudit(this.storage.client, {
      types, action: p.action || undefined, pid: pidParam(p.pid), comm: p.comm || undefined, q: p.q || undefined, range: p.from || p.to ? range(p.from, p.to) : undefined,
    }, { cursor: cursorParam(p.cursor), limit: limitParam(p.limit) })).catch(rethrowBad);
  }

  @Get('capture')
  @ApiOkResponse({ description: 'CaptureStatus: probes and kernel loss (latest loss record per producer), consumer lag, stream and table sizes, dead letters by stage and reason, TLS not captured, stage event counters' })
  async capture(): Promise<CaptureStatus> {
    return (await readCaptureStatus(captureSources(this.storage, this.rt, this.batches))).capture;
  }

  /** Live channel: one `stored` event per stored row (LiveEvent JSON), and a `ping` every 15 s to keep proxies open. */
  @Sse('live')
  @ApiOkResponse({ description: 'text/event-stream: `stored` events (LiveEvent) as rows are stored; `ping` every 15 s' })
  liveEvents(): Observable<MessageEvent> {
    return merge(
      this.live.events.pipe(map((e): MessageEvent => ({ type: 'stored', data: e }))),
      interval(15_000).pipe(map((): MessageEvent => ({ type: 'ping', data: { t: Date.now() } }))),
    );
  }
}

function rethrowBad(err: unknown): never {
  if (err instanceof Error && /^(bad cursor|not a time|from must be|sort must be)/.test(err.message)) throw new BadRequestException(err.message);
  throw err;
}

/** A stored body for the page: UTF-8 text (lossy only when the bytes were not UTF-8, which `binary` says). */
function bodyText(b: Uint8Array): { text: string; binary: boolean; bytes: number } {
  const buf = Buffer.from(b);
  const text = buf.toString('utf8');
  return { text, binary: !Buffer.from(text, 'utf8').equals(buf), bytes: buf.length };
}
