/**
 * A trace collector for tests, on 127.0.0.1: it takes what the brokers' (and a test's) real
 * exporters send and decodes it from the wire formats' own definitions, so that a test sees the
 * spans a Jaeger or an OpenTelemetry collector would see:
 *  - POST /api/traces: Jaeger's collector endpoint, a Thrift binary `Batch` (jaeger-idl's
 *    jaeger.thrift, fixtures/tracing/jaeger.thrift), read with the thrift package's
 *    TBinaryProtocol, field by field as the IDL declares them;
 *  - POST /v1/traces: OTLP/HTTP, a protobuf `ExportTraceServiceRequest` (opentelemetry-proto
 *    v1.11.0, fixtures/tracing/opentelemetry/), decoded with protobufjs.
 * A body that does not decode is answered 400 and kept in `failures` (a test asserts there are
 * none), so that an exporter sending something else fails the test instead of losing spans.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { SpanKind } from '@opentelemetry/api';
import protobuf from 'protobufjs';
import thrift from 'thrift';

/** An attribute's value as both formats can carry it. */
export type CollectedValue = string | number | boolean | readonly CollectedValue[];

/** One span as the receiver decoded it (ids in lowercase hex, as W3C traceparent writes them). */
export interface CollectedSpan {
  /** Which endpoint it came to. */
  readonly protocol: 'jaeger' | 'otlp';
  readonly serviceName: string;
  /**
   * The resource's attributes. Jaeger has no resource: its exporter writes them among each span's
   * tags (so they are in `attributes` there), and this holds the process's tags.
   */
  readonly resource: Readonly<Record<string, CollectedValue>>;
  /** 32 hex digits. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** 16 hex digits; undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Readonly<Record<string, CollectedValue>>;
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

/** Largest request body taken (a broker's export batch is at most 512 spans). */
const requestBytesMax = 32 * 1024 * 1024;
/** How often `waitFor` looks again. */
const waitPollMs = 50;

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tracing');

export class TraceReceiver {
  private readonly collected: CollectedSpan[] = [];
  private readonly failed: string[] = [];
  private readonly requestCounts = { jaeger: 0, otlp: 0 };

  private constructor(
    private readonly server: Server,
    /** http://127.0.0.1:port */
    readonly origin: string,
  ) {}

  /** Starts a receiver on a free port of 127.0.0.1. */
  static async start(): Promise<TraceReceiver> {
    const jaeger = jaegerIdl();
    const otlp = otlpTypes();
    let receiver: TraceReceiver | undefined;
    const server = createServer((request, response) => {
      void receiver?.handle(request, response, jaeger, otlp);
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    receiver = new TraceReceiver(server, `http://127.0.0.1:${port}`);
    return receiver;
  }

  /** Where a Jaeger exporter sends (a collector's `/api/traces`). */
  get jaegerEndpoint(): string {
    return `${this.origin}/api/traces`;
  }

  /** Where an OTLP/HTTP exporter sends. */
  get otlpEndpoint(): string {
    return `${this.origin}/v1/traces`;
  }

  /** Every span received so far, in order of arrival. */
  spans(): readonly CollectedSpan[] {
    return [...this.collected];
  }

  /** The spans of one trace. */
  trace(traceId: string): readonly CollectedSpan[] {
    return this.collected.filter((span) => span.traceId === traceId);
  }

  /** Requests that did not decode, each as "path: why". */
  get failures(): readonly string[] {
    return [...this.failed];
  }

  /** Requests decoded, per endpoint. */
  get requests(): { readonly jaeger: number; readonly otlp: number } {
    return { ...this.requestCounts };
  }

  /** Forgets the spans received (not the failures: a test asserts there were none at all). */
  clear(): void {
    this.collected.length = 0;
    this.requestCounts.jaeger = 0;
    this.requestCounts.otlp = 0;
  }

  /** Waits (at most `timeoutMs`) until `done` holds for the spans received; throws naming `what`. */
  async waitFor(what: string, timeoutMs: number, done: (spans: readonly CollectedSpan[]) => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.collected)) {
      if (Date.now() >= deadline)
        throw new Error(
          `no ${what} within ${timeoutMs} ms; received ${this.collected.length} spans: ${this.collected
            .map((span) => `${span.name}@${span.serviceName}${brokerSuffix(span)}`)
            .join(', ')}; failures: ${this.failed.join('; ') || 'none'}`,
        );
      await new Promise((resolve) => setTimeout(resolve, waitPollMs));
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Exporters keep connections alive; they would hold close() open.
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
    jaeger: ThriftIdl,
    otlp: OtlpTypes,
  ): Promise<void> {
    const path = new URL(request.url ?? '/', this.origin).pathname;
    try {
      const body = await readBody(request);
      if (request.method === 'POST' && path === '/api/traces') {
        expectContentType(request, 'application/x-thrift');
        const spans = decodeJaegerBatch(jaeger, body);
        this.requestCounts.jaeger += 1;
        this.collected.push(...spans);
        response.writeHead(202).end();
        return;
      }
      if (request.method === 'POST' && path === '/v1/traces') {
        expectContentType(request, 'application/x-protobuf');
        const spans = decodeOtlpRequest(otlp, body);
        this.requestCounts.otlp += 1;
        this.collected.push(...spans);
        const answer = otlp.response.encode(otlp.response.create({})).finish();
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(answer));
        return;
      }
      response.writeHead(404).end(`no ${request.method ?? ''} ${path} here`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.failed.push(`${request.method ?? ''} ${path}: ${message}`);
      if (!response.headersSent) response.writeHead(400, { 'content-type': 'text/plain' }).end(message);
    }
  }
}

/** `/N` for a StreamBus broker's span (its `streambus.broker.id`), for failure messages. */
function brokerSuffix(span: CollectedSpan): string {
  const broker = span.attributes['streambus.broker.id'];
  return broker === undefined ? '' : `/${String(broker)}`;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.byteLength;
    if (bytes > requestBytesMax) throw new Error(`body larger than ${requestBytesMax} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined || encoding === 'identity') return body;
  if (encoding === 'gzip') return gunzipSync(body);
  throw new Error(`content-encoding ${encoding} is not supported`);
}

function expectContentType(request: IncomingMessage, expected: string): void {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type !== expected) throw new Error(`content-type is ${type ?? 'missing'}, expected ${expected}`);
}

// ---- Jaeger: Thrift binary, read as the IDL says ------------------------------------------------

const thriftBaseTypes = {
  bool: thrift.Thrift.Type.BOOL,
  byte: thrift.Thrift.Type.BYTE,
  i16: thrift.Thrift.Type.I16,
  i32: thrift.Thrift.Type.I32,
  i64: thrift.Thrift.Type.I64,
  double: thrift.Thrift.Type.DOUBLE,
  string: thrift.Thrift.Type.STRING,
  binary: thrift.Thrift.Type.STRING,
} as const;

export type ThriftBaseName = keyof typeof thriftBaseTypes;

/** A field's type as the IDL names it. */
export type IdlType =
  | { readonly kind: 'base'; readonly name: ThriftBaseName }
  | { readonly kind: 'list'; readonly element: IdlType }
  | { readonly kind: 'enum'; readonly name: string }
  | { readonly kind: 'struct'; readonly name: string };

export interface IdlField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IdlType;
}

/** The enums (value -> name) and structs of a .thrift file. */
export interface ThriftIdl {
  readonly enums: ReadonlyMap<string, ReadonlyMap<number, string>>;
  readonly structs: ReadonlyMap<string, readonly IdlField[]>;
}

/** A decoded value: i64 as bigint, binary as Buffer, an enum as its name. */
type ThriftValue = boolean | number | bigint | string | Buffer | readonly ThriftValue[] | ThriftStruct;
interface ThriftStruct {
  readonly [field: string]: ThriftValue;
}

let jaegerIdlCache: ThriftIdl | undefined;

function jaegerIdl(): ThriftIdl {
  jaegerIdlCache ??= parseThriftIdl(readFileSync(join(fixtures, 'jaeger.thrift'), 'utf8'));
  return jaegerIdlCache;
}

/**
 * Reads the enums and structs of a .thrift file: `enum Name { A, B = 3 }` and
 * `struct Name { 1: required T name ... }` with base types, enums, structs and list<T>. Anything
 * else (a typedef, a map, a default value) is refused with the line, never skipped.
 */
export function parseThriftIdl(text: string): ThriftIdl {
  const source = text
    .split('\n')
    .map((line) => line.replace(/(#|\/\/).*$/, ''))
    .join('\n');
  const enums = new Map<string, Map<number, string>>();
  const rawStructs = new Map<string, string>();
  const definition = /\b(enum|struct)\s+(\w+)\s*\{([^}]*)\}/g;
  let rest = source;
  for (const match of source.matchAll(definition)) {
    const [whole, keyword, name, body] = match as unknown as [string, string, string, string];
    rest = rest.replace(whole, '');
    if (keyword === 'struct') {
      rawStructs.set(name, body);
      continue;
    }
    const values = new Map<number, string>();
    let next = 0;
    for (const item of body.split(/[,\n]/).map((part) => part.trim())) {
      if (item === '') continue;
      const value = /^(\w+)(?:\s*=\s*(\d+))?$/.exec(item);
      if (value === null) throw new Error(`enum ${name}: cannot read "${item}"`);
      next = value[2] === undefined ? next : Number(value[2]);
      values.set(next, value[1] as string);
      next += 1;
    }
    enums.set(name, values);
  }
  const leftover = rest.replace(/\bnamespace\s+\w+\s+[\w.]+/g, '').trim();
  if (leftover !== '') throw new Error(`cannot read this IDL: "${leftover.slice(0, 80)}"`);
  const typeOf = (spelled: string, where: string): IdlType => {
    const list = /^list\s*<\s*(.+)\s*>$/.exec(spelled);
    if (list !== null) return { kind: 'list', element: typeOf((list[1] as string).trim(), where) };
    if (spelled in thriftBaseTypes) return { kind: 'base', name: spelled as ThriftBaseName };
    if (enums.has(spelled)) return { kind: 'enum', name: spelled };
    if (rawStructs.has(spelled)) return { kind: 'struct', name: spelled };
    throw new Error(`${where}: unknown type ${spelled}`);
  };
  const structs = new Map<string, IdlField[]>();
  for (const [name, body] of rawStructs) {
    const fields: IdlField[] = [];
    for (const line of body.split('\n').map((part) => part.trim())) {
      if (line === '') continue;
      const field = /^(\d+)\s*:\s*(required|optional)\s+(list\s*<[^>]+>|\w+)\s+(\w+)\s*[,;]?$/.exec(line);
      if (field === null) throw new Error(`struct ${name}: cannot read "${line}"`);
      const [, id, requiredness, spelled, fieldName] = field as unknown as [string, string, string, string, string];
      fields.push({
        id: Number(id),
        name: fieldName,
        required: requiredness === 'required',
        type: typeOf(spelled, `${name}.${fieldName}`),
      });
    }
    structs.set(name, fields);
  }
  return { enums, structs };
}

/** The Thrift wire type of an IDL type. */
function wireType(type: IdlType): thrift.Thrift.Type {
  switch (type.kind) {
    case 'base':
      return thriftBaseTypes[type.name];
    case 'list':
      return thrift.Thrift.Type.LIST;
    case 'enum':
      return thrift.Thrift.Type.I32;
    case 'struct':
      return thrift.Thrift.Type.STRUCT;
  }
}

function readStruct(protocol: thrift.TProtocol, idl: ThriftIdl, name: string): ThriftStruct {
  const fields = idl.structs.get(name);
  if (fields === undefined) throw new Error(`no struct ${name} in the IDL`);
  const value: Record<string, ThriftValue> = {};
  protocol.readStructBegin();
  for (;;) {
    const { ftype, fid } = protocol.readFieldBegin();
    if (ftype === thrift.Thrift.Type.STOP) break;
    const field = fields.find((candidate) => candidate.id === fid);
    if (field === undefined) {
      // A field this IDL does not know (a newer sender): Thrift's rule is to skip it.
      protocol.skip(ftype);
    } else {
      if (ftype !== wireType(field.type))
        throw new Error(
          `${name}.${field.name} (field ${fid}) has wire type ${ftype}, the IDL says ${wireType(field.type)}`,
        );
      value[field.name] = readValue(protocol, idl, field.type, `${name}.${field.name}`);
    }
    protocol.readFieldEnd();
  }
  protocol.readStructEnd();
  for (const field of fields)
    if (field.required && !(field.name in value)) throw new Error(`${name}.${field.name} is required and missing`);
  return value;
}

function readValue(protocol: thrift.TProtocol, idl: ThriftIdl, type: IdlType, where: string): ThriftValue {
  switch (type.kind) {
    case 'struct':
      return readStruct(protocol, idl, type.name);
    case 'enum': {
      const number = protocol.readI32();
      const name = idl.enums.get(type.name)?.get(number);
      if (name === undefined) throw new Error(`${where}: ${number} is not a value of enum ${type.name}`);
      return name;
    }
    case 'list': {
      const { etype, size } = protocol.readListBegin();
      if (etype !== wireType(type.element))
        throw new Error(`${where}: list of wire type ${etype}, the IDL says ${wireType(type.element)}`);
      const items: ThriftValue[] = [];
      for (let index = 0; index < size; index += 1) items.push(readValue(protocol, idl, type.element, where));
      protocol.readListEnd();
      return items;
    }
    case 'base':
      switch (type.name) {
        case 'bool':
          return protocol.readBool();
        case 'byte':
          return protocol.readByte();
        case 'i16':
          return protocol.readI16();
        case 'i32':
          return protocol.readI32();
        case 'i64':
          return int64(protocol.readI64());
        case 'double':
          return protocol.readDouble();
        case 'string':
          return protocol.readString();
        case 'binary':
          return protocol.readBinary();
      }
  }
}

/** The protocol's i64 (a node-int64) as a signed bigint. */
function int64(value: ReturnType<thrift.TProtocol['readI64']>): bigint {
  return BigInt.asIntN(64, BigInt(`0x${value.toOctetString()}`));
}

/** Decodes a Jaeger collector request: one Thrift binary `Batch`. */
export function decodeJaegerBatch(idl: ThriftIdl, body: Buffer): CollectedSpan[] {
  // TFramedTransport reads straight from the buffer it is given (no frame header on this path).
  const protocol = new thrift.TBinaryProtocol(new thrift.TFramedTransport(body));
  const batch = readStruct(protocol, idl, 'Batch');
  const process = structField(batch, 'process');
  const serviceName = stringField(process, 'serviceName');
  const resource = jaegerTags(optionalList(process, 'tags'));
  return optionalList(batch, 'spans').map((item) => {
    const span = asStruct(item, 'Batch.spans[]');
    const traceId = hex64(bigintField(span, 'traceIdHigh')) + hex64(bigintField(span, 'traceIdLow'));
    const parent = bigintField(span, 'parentSpanId');
    const tags = jaegerTags(optionalList(span, 'tags'));
    const kindTag = tags['span.kind'];
    delete tags['span.kind'];
    const links = optionalList(span, 'references').map((reference) => {
      const ref = asStruct(reference, 'Span.references[]');
      if (stringField(ref, 'refType') !== 'FOLLOWS_FROM')
        throw new Error(`a ${stringField(ref, 'refType')} reference; the exporter writes links as FOLLOWS_FROM`);
      return {
        traceId: hex64(bigintField(ref, 'traceIdHigh')) + hex64(bigintField(ref, 'traceIdLow')),
        spanId: hex64(bigintField(ref, 'spanId')),
      };
    });
    return {
      protocol: 'jaeger' as const,
      serviceName,
      resource,
      traceId,
      spanId: hex64(bigintField(span, 'spanId')),
      parentSpanId: parent === 0n ? undefined : hex64(parent),
      name: stringField(span, 'operationName'),
      kind: jaegerKind(kindTag),
      attributes: tags,
      links,
    };
  });
}

/** Jaeger's `span.kind` tag (absent for an internal span) as an OpenTelemetry kind. */
function jaegerKind(tag: CollectedValue | undefined): SpanKind {
  switch (tag) {
    case undefined:
      return SpanKind.INTERNAL;
    case 'server':
      return SpanKind.SERVER;
    case 'client':
      return SpanKind.CLIENT;
    case 'producer':
      return SpanKind.PRODUCER;
    case 'consumer':
      return SpanKind.CONSUMER;
    default:
      throw new Error(`span.kind ${JSON.stringify(tag)} is not a span kind`);
  }
}

function jaegerTags(tags: readonly ThriftValue[]): Record<string, CollectedValue> {
  const attributes: Record<string, CollectedValue> = {};
  for (const item of tags) {
    const tag = asStruct(item, 'Tag');
    const key = stringField(tag, 'key');
    const type = stringField(tag, 'vType');
    const value =
      tag[{ STRING: 'vStr', DOUBLE: 'vDouble', BOOL: 'vBool', LONG: 'vLong', BINARY: 'vBinary' }[type] ?? ''];
    if (value === undefined) throw new Error(`tag ${key} of type ${type} has no value`);
    attributes[key] =
      typeof value === 'bigint'
        ? Number(value)
        : Buffer.isBuffer(value)
          ? value.toString('hex')
          : (value as CollectedValue);
  }
  return attributes;
}

function asStruct(value: ThriftValue | undefined, where: string): ThriftStruct {
  if (typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value))
    throw new Error(`${where} is not a struct`);
  return value as ThriftStruct;
}

function structField(struct: ThriftStruct, name: string): ThriftStruct {
  return asStruct(struct[name], name);
}

function stringField(struct: ThriftStruct, name: string): string {
  const value = struct[name];
  if (typeof value !== 'string') throw new Error(`${name} is not a string`);
  return value;
}

function bigintField(struct: ThriftStruct, name: string): bigint {
  const value = struct[name];
  if (typeof value !== 'bigint') throw new Error(`${name} is not an i64`);
  return value;
}

function optionalList(struct: ThriftStruct, name: string): readonly ThriftValue[] {
  const value = struct[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${name} is not a list`);
  return value as readonly ThriftValue[];
}

/** An i64 id as 16 hex digits (Jaeger carries ids as signed i64). */
function hex64(value: bigint): string {
  return BigInt.asUintN(64, value).toString(16).padStart(16, '0');
}

// ---- OTLP: protobuf ------------------------------------------------------------------------------

export interface OtlpTypes {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

let otlpTypesCache: OtlpTypes | undefined;

function otlpTypes(): OtlpTypes {
  if (otlpTypesCache !== undefined) return otlpTypesCache;
  const root = new protobuf.Root();
  // The files import each other by their path under the proto root.
  root.resolvePath = (_origin, target) => join(fixtures, target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
  root.resolveAll();
  otlpTypesCache = {
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  };
  return otlpTypesCache;
}

/** The shapes `toObject` gives (longs as strings, bytes as Buffers, absent fields absent). */
interface OtlpAnyValue {
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly intValue?: string;
  readonly doubleValue?: number;
  readonly arrayValue?: { readonly values?: readonly OtlpAnyValue[] };
  readonly bytesValue?: Buffer;
}
interface OtlpKeyValue {
  readonly key: string;
  readonly value?: OtlpAnyValue;
}
interface OtlpSpan {
  readonly traceId: Buffer;
  readonly spanId: Buffer;
  readonly parentSpanId?: Buffer;
  readonly name: string;
  readonly kind?: number;
  readonly attributes?: readonly OtlpKeyValue[];
  readonly links?: readonly { readonly traceId: Buffer; readonly spanId: Buffer }[];
}
interface OtlpRequest {
  readonly resourceSpans?: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpKeyValue[] };
    readonly scopeSpans?: readonly { readonly spans?: readonly OtlpSpan[] }[];
  }[];
}

/** OTLP's SpanKind enum (trace.proto) as OpenTelemetry's API numbers it. */
const otlpKinds: ReadonlyMap<number, SpanKind> = new Map([
  [0, SpanKind.INTERNAL], // unspecified: receivers may take it as internal
  [1, SpanKind.INTERNAL],
  [2, SpanKind.SERVER],
  [3, SpanKind.CLIENT],
  [4, SpanKind.PRODUCER],
  [5, SpanKind.CONSUMER],
]);

/** Decodes an OTLP/HTTP protobuf `ExportTraceServiceRequest`. */
export function decodeOtlpRequest(types: OtlpTypes, body: Buffer): CollectedSpan[] {
  const message = types.request.decode(body);
  // toObject gives plain values of the schema's shape (checked by decode); OtlpRequest names it.
  const request = types.request.toObject(message, { longs: String, enums: Number, arrays: true }) as OtlpRequest;
  const spans: CollectedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = otlpAttributes(resourceSpans.resource?.attributes ?? []);
    const serviceName = resource['service.name'];
    if (typeof serviceName !== 'string') throw new Error('a resource without service.name');
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        const kind = otlpKinds.get(span.kind ?? 0);
        if (kind === undefined) throw new Error(`span ${span.name}: kind ${span.kind} is not a span kind`);
        const parent = span.parentSpanId;
        spans.push({
          protocol: 'otlp',
          serviceName,
          resource,
          traceId: otlpId(span.traceId, 16, 'trace_id'),
          spanId: otlpId(span.spanId, 8, 'span_id'),
          parentSpanId:
            parent === undefined || parent.byteLength === 0 ? undefined : otlpId(parent, 8, 'parent_span_id'),
          name: span.name,
          kind,
          attributes: otlpAttributes(span.attributes ?? []),
          links: (span.links ?? []).map((link) => ({
            traceId: otlpId(link.traceId, 16, 'link trace_id'),
            spanId: otlpId(link.spanId, 8, 'link span_id'),
          })),
        });
      }
    }
  }
  return spans;
}

function otlpId(bytes: Buffer | undefined, length: number, what: string): string {
  if (bytes === undefined || bytes.byteLength !== length)
    throw new Error(`${what} is ${bytes?.byteLength ?? 0} bytes, not ${length}`);
  return bytes.toString('hex');
}

function otlpAttributes(attributes: readonly OtlpKeyValue[]): Record<string, CollectedValue> {
  const values: Record<string, CollectedValue> = {};
  for (const { key, value } of attributes) values[key] = otlpValue(value, key);
  return values;
}

function otlpValue(value: OtlpAnyValue | undefined, key: string): CollectedValue {
  if (value?.stringValue !== undefined) return value.stringValue;
  if (value?.boolValue !== undefined) return value.boolValue;
  if (value?.intValue !== undefined) return Number(value.intValue);
  if (value?.doubleValue !== undefined) return value.doubleValue;
  if (value?.arrayValue !== undefined) return (value.arrayValue.values ?? []).map((item) => otlpValue(item, key));
  if (value?.bytesValue !== undefined) return value.bytesValue.toString('hex');
  throw new Error(`attribute ${key} has no value it knows`);
}
