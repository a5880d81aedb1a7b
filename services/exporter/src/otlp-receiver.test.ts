/**
 * Test helper (not a test: `.test.ts` keeps it out of the build and out of Jest's `*.spec.ts` run): a local OTLP/HTTP
 * trace and metrics receiver on 127.0.0.1, as a collector would be (`/v1/metrics` requests are decoded as metrics:
 * histogram and sum points of opentelemetry-proto `metrics/v1/metrics.proto`). It decodes `application/x-protobuf` requests with a small
 * protobuf wire reader over the OTLP trace schema (opentelemetry-proto `trace/v1/trace.proto`,
 * `collector/trace/v1/trace_service.proto`, `common/v1/common.proto`; `@opentelemetry/otlp-transformer` 0.223 ships no
 * decoder) and `application/json` requests per the OTLP/JSON mapping, into one normalized shape, and records every
 * request. `status` decides the HTTP answer per request (default 200).
 */
import { createServer, type Server } from 'node:http';
import { readBody } from '@agentsight/testkit';

export type AttrValue = string | number | boolean | bigint | AttrValue[] | null;

/** A received span, normalized (ids hex, times ns as decimal strings, kind as the OTLP enum number). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' when none. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttrValue>;
  /** OTLP StatusCode: 0 UNSET, 1 OK, 2 ERROR. */
  status: { code: number; message: string };
  resource: Record<string, AttrValue>;
  scope: { name: string; version: string };
}

/** A received histogram data point (OTLP metrics), normalized. */
export interface ReceivedHistogramPoint {
  metric: string;
  unit: string;
  /** OTLP AggregationTemporality: 1 DELTA, 2 CUMULATIVE. */
  temporality: number;
  count: number;
  sum: number;
  bucketCounts: number[];
  explicitBounds: number[];
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
}

/** A received sum data point (OTLP metrics `Sum` of NumberDataPoints), normalized; times ns as decimal strings. */
export interface ReceivedSumPoint {
  metric: string;
  unit: string;
  /** OTLP AggregationTemporality: 1 DELTA, 2 CUMULATIVE. */
  temporality: number;
  monotonic: boolean;
  startTimeUnixNano: string;
  timeUnixNano: string;
  /** `as_double` or `as_int`. */
  value: number;
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
}

/** One request the receiver got. */
export interface ReceivedRequest {
  path: string;
  contentType: string;
  headers: Record<string, string | string[] | undefined>;
  /** HTTP status answered. */
  answered: number;
  spans: ReceivedSpan[];
  /** Histogram points of a metrics request (`/v1/metrics`); [] for traces. */
  points: ReceivedHistogramPoint[];
  /** Sum points of a metrics request; [] for traces. */
  sums: ReceivedSumPoint[];
}

// ---- protobuf wire format --------------------------------------------------------------------------------------

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  end(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  }
  tag(): { field: number; wire: number } {
    const t = Number(this.varint());
    return { field: t >>> 3, wire: t & 7 };
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + n);
    if (out.length !== n) throw new Error('truncated bytes');
    this.pos += n;
    return out;
  }
  fixed64(): bigint {
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  fixed32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  double(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function fields(buf: Buffer, on: (field: number, wire: number, r: Reader) => void): void {
  const r = new Reader(buf);
  while (!r.end()) {
    const { field, wire } = r.tag();
    const before = r.pos;
    on(field, wire, r);
    if (r.pos === before) r.skip(wire);
  }
}

function anyValue(buf: Buffer): AttrValue {
  let v: AttrValue = null;
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) v = r.bytes().toString('utf8');
    else if (f === 2 && w === 0) v = r.varint() !== 0n;
    else if (f === 3 && w === 0) v = intOf(BigInt.asIntN(64, r.varint()));
    else if (f === 4 && w === 1) v = r.double();
    else if (f === 5 && w === 2) {
      const arr: AttrValue[] = [];
      fields(r.bytes(), (f2, w2, r2) => { if (f2 === 1 && w2 === 2) arr.push(anyValue(r2.bytes())); });
      v = arr;
    }
  });
  return v;
}

const intOf = (n: bigint): number | bigint => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

function keyValue(buf: Buffer): [string, AttrValue] {
  let key = '';
  let value: AttrValue = null;
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) key = r.bytes().toString('utf8');
    else if (f === 2 && w === 2) value = anyValue(r.bytes());
  });
  return [key, value];
}

function protoSpan(buf: Buffer, resource: Record<string, AttrValue>, scope: { name: string; version: string }): ReceivedSpan {
  const s: ReceivedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: {}, status: { code: 0, message: '' }, resource, scope };
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 2) s.traceId = r.bytes().toString('hex');
    else if (f === 2 && w === 2) s.spanId = r.bytes().toString('hex');
    else if (f === 4 && w === 2) s.parentSpanId = r.bytes().toString('hex');
    else if (f === 5 && w === 2) s.name = r.bytes().toString('utf8');
    else if (f === 6 && w === 0) s.kind = Number(r.varint());
    else if (f === 7 && w === 1) s.startTimeUnixNano = r.fixed64().toString();
    else if (f === 8 && w === 1) s.endTimeUnixNano = r.fixed64().toString();
    else if (f === 9 && w === 2) {
      const [k, v] = keyValue(r.bytes());
      s.attributes[k] = v;
    } else if (f === 15 && w === 2) {
      fields(r.bytes(), (f2, w2, r2) => {
        if (f2 === 2 && w2 === 2) s.status.message = r2.bytes().toString('utf8');
        else if (f2 === 3 && w2 === 0) s.status.code = Number(r2.varint());
      });
    } else if (f === 16 && w === 5) r.fixed32();
  });
  return s;
}

/** Decodes an `ExportTraceServiceRequest` (protobuf) into spans. */
export function decodeProtobufTraces(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(body, (f, w, r) => {
    if (f !== 1 || w !== 2) return;
    const resource: Record<string, AttrValue> = {};
    const scopeSpans: Buffer[] = [];
    fields(r.bytes(), (f2, w2, r2) => {
      if (f2 === 1 && w2 === 2) fields(r2.bytes(), (f3, w3, r3) => {
        if (f3 === 1 && w3 === 2) {
          const [k, v] = keyValue(r3.bytes());
          resource[k] = v;
        }
      });
      else if (f2 === 2 && w2 === 2) scopeSpans.push(r2.bytes());
    });
    for (const ss of scopeSpans) {
      const scope = { name: '', version: '' };
      const spans: Buffer[] = [];
      fields(ss, (f3, w3, r3) => {
        if (f3 === 1 && w3 === 2) fields(r3.bytes(), (f4, w4, r4) => {
          if (f4 === 1 && w4 === 2) scope.name = r4.bytes().toString('utf8');
          else if (f4 === 2 && w4 === 2) scope.version = r4.bytes().toString('utf8');
        });
        else if (f3 === 2 && w3 === 2) spans.push(r3.bytes());
      });
      for (const sp of spans) out.push(protoSpan(sp, resource, scope));
    }
  });
  return out;
}

function protoAttrs(buf: Buffer, into: Record<string, AttrValue>): void {
  const [k, v] = keyValue(buf);
  into[k] = v;
}

function packed(buf: Buffer, width: 8, read: (b: Buffer, at: number) => number): number[] {
  const out: number[] = [];
  for (let at = 0; at + width <= buf.length; at += width) out.push(read(buf, at));
  return out;
}

/** Calls `on` for each metric of an `ExportMetricsServiceRequest` (protobuf): its name, unit, data field and bytes. */
function eachProtoMetric(body: Buffer, on: (m: { name: string; unit: string; field: number; data: Buffer; resource: Record<string, AttrValue> }) => void): void {
  fields(body, (f, w, r) => {
    if (f !== 1 || w !== 2) return;
    const resource: Record<string, AttrValue> = {};
    const scopes: Buffer[] = [];
    fields(r.bytes(), (f2, w2, r2) => {
      if (f2 === 1 && w2 === 2) fields(r2.bytes(), (f3, w3, r3) => { if (f3 === 1 && w3 === 2) protoAttrs(r3.bytes(), resource); });
      else if (f2 === 2 && w2 === 2) scopes.push(r2.bytes());
    });
    for (const sm of scopes) {
      fields(sm, (f3, w3, r3) => {
        if (f3 !== 2 || w3 !== 2) return;
        let name = '';
        let unit = '';
        const data: Array<{ field: number; data: Buffer }> = [];
        fields(r3.bytes(), (f4, w4, r4) => {
          if (f4 === 1 && w4 === 2) name = r4.bytes().toString('utf8');
          else if (f4 === 3 && w4 === 2) unit = r4.bytes().toString('utf8');
          else if ((f4 === 5 || f4 === 7 || f4 === 9) && w4 === 2) data.push({ field: f4, data: r4.bytes() });
        });
        for (const d of data) on({ name, unit, ...d, resource });
      });
    }
  });
}

/** Decodes an `ExportMetricsServiceRequest` (protobuf, opentelemetry-proto metrics/v1) into its histogram points. */
export function decodeProtobufMetrics(body: Buffer): ReceivedHistogramPoint[] {
  const out: ReceivedHistogramPoint[] = [];
  eachProtoMetric(body, ({ name, unit, field, data, resource }) => {
    if (field !== 9) return;
    let temporality = 0;
    const dps: Buffer[] = [];
    fields(data, (f5, w5, r5) => {
      if (f5 === 1 && w5 === 2) dps.push(r5.bytes());
      else if (f5 === 2 && w5 === 0) temporality = Number(r5.varint());
    });
    for (const dp of dps) {
      const p: ReceivedHistogramPoint = { metric: name, unit, temporality, count: 0, sum: 0, bucketCounts: [], explicitBounds: [], attributes: {}, resource };
      fields(dp, (f6, w6, r6) => {
        if (f6 === 4 && w6 === 1) p.count = Number(r6.fixed64());
        else if (f6 === 5 && w6 === 1) p.sum = r6.double();
        else if (f6 === 6 && w6 === 2) p.bucketCounts = packed(r6.bytes(), 8, (b, at) => Number(b.readBigUInt64LE(at)));
        else if (f6 === 7 && w6 === 2) p.explicitBounds = packed(r6.bytes(), 8, (b, at) => b.readDoubleLE(at));
        else if (f6 === 9 && w6 === 2) protoAttrs(r6.bytes(), p.attributes);
      });
      out.push(p);
    }
  });
  return out;
}

/** Decodes an `ExportMetricsServiceRequest` (protobuf) into its sum points (`Sum`: data_points 1, temporality 2, is_monotonic 3). */
export function decodeProtobufSums(body: Buffer): ReceivedSumPoint[] {
  const out: ReceivedSumPoint[] = [];
  eachProtoMetric(body, ({ name, unit, field, data, resource }) => {
    if (field !== 7) return;
    let temporality = 0;
    let monotonic = false;
    const dps: Buffer[] = [];
    fields(data, (f5, w5, r5) => {
      if (f5 === 1 && w5 === 2) dps.push(r5.bytes());
      else if (f5 === 2 && w5 === 0) temporality = Number(r5.varint());
      else if (f5 === 3 && w5 === 0) monotonic = r5.varint() !== 0n;
    });
    for (const dp of dps) {
      const p: ReceivedSumPoint = { metric: name, unit, temporality, monotonic, startTimeUnixNano: '0', timeUnixNano: '0', value: 0, attributes: {}, resource };
      // NumberDataPoint: start_time_unix_nano 2, time_unix_nano 3 (fixed64), as_double 4 (double), as_int 6 (sfixed64), attributes 7.
      fields(dp, (f6, w6, r6) => {
        if (f6 === 2 && w6 === 1) p.startTimeUnixNano = String(r6.fixed64());
        else if (f6 === 3 && w6 === 1) p.timeUnixNano = String(r6.fixed64());
        else if (f6 === 4 && w6 === 1) p.value = r6.double();
        else if (f6 === 6 && w6 === 1) p.value = Number(BigInt.asIntN(64, r6.fixed64()));
        else if (f6 === 7 && w6 === 2) protoAttrs(r6.bytes(), p.attributes);
      });
      out.push(p);
    }
  });
  return out;
}

// ---- OTLP/JSON ---------------------------------------------------------------------------------------------------

type J = Record<string, any>;

function jsonValue(v: J | undefined): AttrValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return intOf(BigInt(v.intValue));
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue?.values ?? []) as J[]).map(jsonValue);
  return null;
}

const jsonAttrs = (list: J[] | undefined): Record<string, AttrValue> => Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

/** Decodes an `ExportTraceServiceRequest` in OTLP/JSON into spans (ids in hex, as the OTLP/JSON mapping requires). */
export function decodeJsonTraces(body: Buffer): ReceivedSpan[] {
  const req = JSON.parse(body.toString('utf8')) as J;
  const out: ReceivedSpan[] = [];
  for (const rs of (req.resourceSpans ?? []) as J[]) {
    const resource = jsonAttrs(rs.resource?.attributes);
    for (const ss of (rs.scopeSpans ?? []) as J[]) {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' };
      for (const s of (ss.spans ?? []) as J[]) {
        out.push({
          traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: Number(s.kind ?? 0),
          startTimeUnixNano: String(s.startTimeUnixNano), endTimeUnixNano: String(s.endTimeUnixNano), attributes: jsonAttrs(s.attributes),
          status: { code: Number(s.status?.code ?? 0), message: s.status?.message ?? '' }, resource, scope,
        });
      }
    }
  }
  return out;
}

/** Decodes an `ExportMetricsServiceRequest` in OTLP/JSON into its histogram points. */
export function decodeJsonMetrics(body: Buffer): ReceivedHistogramPoint[] {
  const req = JSON.parse(body.toString('utf8')) as J;
  const out: ReceivedHistogramPoint[] = [];
  for (const rm of (req.resourceMetrics ?? []) as J[]) {
    const resource = jsonAttrs(rm.resource?.attributes);
    for (const sm of (rm.scopeMetrics ?? []) as J[]) {
      for (const m of (sm.metrics ?? []) as J[]) {
        if (!m.histogram) continue;
        for (const dp of (m.histogram.dataPoints ?? []) as J[]) {
          out.push({
            metric: m.name, unit: m.unit ?? '', temporality: Number(m.histogram.aggregationTemporality ?? 0), count: Number(dp.count ?? 0), sum: Number(dp.sum ?? 0),
            bucketCounts: ((dp.bucketCounts ?? []) as unknown[]).map(Number), explicitBounds: ((dp.explicitBounds ?? []) as unknown[]).map(Number),
            attributes: jsonAttrs(dp.attributes), resource,
          });
        }
      }
    }
  }
  return out;
}

/** Decodes an `ExportMetricsServiceRequest` in OTLP/JSON into its sum points. */
export function decodeJsonSums(body: Buffer): ReceivedSumPoint[] {
  const req = JSON.parse(body.toString('utf8')) as J;
  const out: ReceivedSumPoint[] = [];
  for (const rm of (req.resourceMetrics ?? []) as J[]) {
    const resource = jsonAttrs(rm.resource?.attributes);
    for (const sm of (rm.scopeMetrics ?? []) as J[]) {
      for (const m of (sm.metrics ?? []) as J[]) {
        if (!m.sum) continue;
        for (const dp of (m.sum.dataPoints ?? []) as J[]) {
          out.push({
            metric: m.name, unit: m.unit ?? '', temporality: Number(m.sum.aggregationTemporality ?? 0), monotonic: m.sum.isMonotonic === true,
            startTimeUnixNano: String(dp.startTimeUnixNano ?? '0'), timeUnixNano: String(dp.timeUnixNano ?? '0'),
            value: dp.asDouble !== undefined ? Number(dp.asDouble) : Number(dp.asInt ?? 0), attributes: jsonAttrs(dp.attributes), resource,
          });
        }
      }
    }
  }
  return out;
}

// ---- the receiver ------------------------------------------------------------------------------------------------

/** A running receiver: its URL, what it got, and a switch for its answers. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>` (no path). */
  url: string;
  requests: ReceivedRequest[];
  /** Spans of the requests answered 2xx. */
  accepted(): ReceivedSpan[];
  /** Histogram points of the metrics requests answered 2xx. */
  acceptedPoints(): ReceivedHistogramPoint[];
  /** Sum points of the metrics requests answered 2xx. */
  acceptedSums(): ReceivedSumPoint[];
  /** HTTP status to answer a request with (default 200); may look at the decoded spans and points. */
  status: (req: { path: string; spans: ReceivedSpan[]; points: ReceivedHistogramPoint[]; sums: ReceivedSumPoint[] }) => number;
  close(): Promise<void>;
}

/** A receiver's state before it listens (no URL yet, answering 200). */
function newReceiver(): OtlpReceiver {
  const r: OtlpReceiver = {
    url: '',
    requests: [],
    accepted: () => r.requests.filter((q) => q.answered >= 200 && q.answered < 300).flatMap((q) => q.spans),
    acceptedPoints: () => r.requests.filter((q) => q.answered >= 200 && q.answered < 300).flatMap((q) => q.points),
    acceptedSums: () => r.requests.filter((q) => q.answered >= 200 && q.answered < 300).flatMap((q) => q.sums),
    status: () => 200,
    close: async () => undefined,
  };
  return r;
}

/** Starts a receiver on 127.0.0.1 (random port). */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const r = newReceiver();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const contentType = String(req.headers['content-type'] ?? '');
      let spans: ReceivedSpan[] = [];
      let points: ReceivedHistogramPoint[] = [];
      let sums: ReceivedSumPoint[] = [];
      let answered: number;
      const metrics = (req.url ?? '').endsWith('/v1/metrics');
      try {
        const json = contentType.includes('json');
        if (metrics) {
          points = json ? decodeJsonMetrics(body) : decodeProtobufMetrics(body);
          sums = json ? decodeJsonSums(body) : decodeProtobufSums(body);
        } else spans = json ? decodeJsonTraces(body) : decodeProtobufTraces(body);
        answered = r.status({ path: req.url ?? '', spans, points, sums });
      } catch {
        answered = 400;
      }
      r.requests.push({ path: req.url ?? '', contentType, headers: { ...req.headers }, answered, spans, points, sums });
      const json = contentType.includes('json');
      res.writeHead(answered, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(answered < 300 && json ? '{}' : answered < 300 ? Buffer.alloc(0) : json ? '{"code":3,"message":"rejected"}' : Buffer.alloc(0));
    })();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  r.close = () => new Promise((res) => { server.closeAllConnections(); server.close(() => res()); });
  return r;
}

// ---- the gRPC receiver --------------------------------------------------------------------------------------------

/** gRPC method paths of the OTLP collector services (opentelemetry-proto collector/{trace,metrics}/v1). */
export const OTLP_GRPC_PATHS = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
} as const;

/**
 * Starts an OTLP/gRPC receiver on 127.0.0.1 (random port, plaintext) with `@grpc/grpc-js`: the trace and metrics
 * services' `Export`, requests decoded with the same protobuf readers as the HTTP receiver. `status` answers as for
 * HTTP and is mapped to gRPC: 2xx → OK, 400 → INVALID_ARGUMENT, 429 → RESOURCE_EXHAUSTED, others → UNAVAILABLE.
 * `url` is `http://127.0.0.1:<port>`.
 */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const grpc = await import('@grpc/grpc-js');
  const r = newReceiver();
  const server = new grpc.Server();
  const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const handler = (path: string, metrics: boolean) => (call: { request: Buffer; metadata: { getMap(): Record<string, unknown> } }, cb: (err: { code: number; details: string } | null, res?: Buffer) => void) => {
    let spans: ReceivedSpan[] = [];
    let points: ReceivedHistogramPoint[] = [];
    let sums: ReceivedSumPoint[] = [];
    let answered: number;
    try {
      if (metrics) {
        points = decodeProtobufMetrics(call.request);
        sums = decodeProtobufSums(call.request);
      } else spans = decodeProtobufTraces(call.request);
      answered = r.status({ path, spans, points, sums });
    } catch {
      answered = 400;
    }
    r.requests.push({ path, contentType: 'application/grpc', headers: call.metadata.getMap() as Record<string, string>, answered, spans, points, sums });
    if (answered >= 200 && answered < 300) return cb(null, Buffer.alloc(0)); // an empty Export*ServiceResponse
    const code = answered === 400 ? grpc.status.INVALID_ARGUMENT : answered === 429 ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.UNAVAILABLE;
    cb({ code, details: `answered ${answered}` });
  };
  for (const [path, metrics] of [[OTLP_GRPC_PATHS.traces, false], [OTLP_GRPC_PATHS.metrics, true]] as const) {
    server.addService({ Export: { path, requestStream: false, responseStream: false, ...raw } } as never, { Export: handler(path, metrics) } as never);
  }
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  r.url = `http://127.0.0.1:${port}`;
  r.close = () => new Promise((res) => server.tryShutdown(() => res()));
  return r;
}
