/**
 * The timeline of one record, from traces: the bench's one-at-a-time phase wraps every awaited send
 * in a root span (`record`), the SDK's `send` span is its child (in the bench process, in memory),
 * and the brokers' spans (produce, propose, persist, replicate, append, commit, ack) arrive at the
 * bench's OTLP sink as protobuf. This file decodes those requests (just the fields a timeline needs:
 * ids, parent, name, times, the broker) and reports, over every complete trace, the median start
 * and end of each step relative to the moment the application called `send`.
 *
 * Processes share the machine's wall clock, but OpenTelemetry JS 2.x takes a span's start from
 * `Date.now()` (whole milliseconds) and its end as start + a `performance.now()` duration: durations
 * are exact to microseconds, start offsets only to a millisecond. Read the durations; the offsets
 * only give the order of the steps.
 */
import protobuf from 'protobufjs/minimal.js';

/** One span, as a timeline needs it. */
export interface TimelineSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** Who made it: `client` for the bench process, else `broker-<id>`. */
  readonly process: string;
  readonly startUs: number;
  readonly endUs: number;
}

/** One step of the timeline: medians over traces, in ms from the application's send. */
export interface TimelineStep {
  readonly step: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly durationMs: number;
  readonly traces: number;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Nanoseconds since the epoch (fixed64) to microseconds: a double holds them exactly enough. */
function fixed64Us(reader: protobuf.Reader): number {
  const value = reader.fixed64() as unknown as { low: number; high: number } | number;
  const nanos = typeof value === 'number' ? value : value.high * 2 ** 32 + (value.low >>> 0);
  return nanos / 1000;
}

function decodeResourceProcess(reader: protobuf.Reader, end: number): string {
  let process = 'unknown';
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1) {
      reader.skipType(tag & 7);
      continue;
    }
    // KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } }
    const kvEnd = reader.uint32() + reader.pos;
    let key = '';
    let value = '';
    while (reader.pos < kvEnd) {
      const kvTag = reader.uint32();
      if (kvTag >>> 3 === 1) key = reader.string();
      else if (kvTag >>> 3 === 2) {
        const anyEnd = reader.uint32() + reader.pos;
        while (reader.pos < anyEnd) {
          const anyTag = reader.uint32();
          if (anyTag >>> 3 === 1) value = reader.string();
          else reader.skipType(anyTag & 7);
        }
      } else reader.skipType(kvTag & 7);
    }
    if (key === 'service.instance.id') process = value;
  }
  return process;
}

function decodeSpan(reader: protobuf.Reader, end: number, process: string): TimelineSpan {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let startUs = 0;
  let endUs = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    switch (tag >>> 3) {
      case 1:
        traceId = hex(reader.bytes());
        break;
      case 2:
        spanId = hex(reader.bytes());
        break;
      case 4:
        parentSpanId = hex(reader.bytes());
        break;
      case 5:
        name = reader.string();
        break;
      case 7:
        startUs = fixed64Us(reader);
        break;
      case 8:
        endUs = fixed64Us(reader);
        break;
      default:
        reader.skipType(tag & 7);
    }
  }
  return { traceId, spanId, parentSpanId, name, process, startUs, endUs };
}

/** The spans of one OTLP/HTTP protobuf ExportTraceServiceRequest body. */
export function decodeOtlpSpans(body: Uint8Array): TimelineSpan[] {
  const spans: TimelineSpan[] = [];
  const reader = protobuf.Reader.create(body);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1) {
      reader.skipType(tag & 7);
      continue;
    }
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }
    const resourceSpansEnd = reader.uint32() + reader.pos;
    let process = 'unknown';
    const scopes: { start: number; end: number }[] = [];
    while (reader.pos < resourceSpansEnd) {
      const rsTag = reader.uint32();
      if (rsTag >>> 3 === 1) {
        const resourceEnd = reader.uint32() + reader.pos;
        process = decodeResourceProcess(reader, resourceEnd);
      } else if (rsTag >>> 3 === 2) {
        const length = reader.uint32();
        scopes.push({ start: reader.pos, end: reader.pos + length });
        reader.skip(length);
      } else reader.skipType(rsTag & 7);
    }
    // The resource may follow its scopes on the wire: decode the spans once it is known.
    for (const scope of scopes) {
      const scopeReader = protobuf.Reader.create(body.subarray(scope.start, scope.end));
      while (scopeReader.pos < scopeReader.len) {
        const scopeTag = scopeReader.uint32();
        if (scopeTag >>> 3 === 2) {
          const spanEnd = scopeReader.uint32() + scopeReader.pos;
          spans.push(decodeSpan(scopeReader, spanEnd, process));
        } else scopeReader.skipType(scopeTag & 7);
      }
    }
  }
  return spans;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Names each span of a trace by its place in the produce (the broker the client called is the
 * leader here: the phase writes to one partition whose leader the client knows; a follower's
 * spans are told apart by which answered first), then takes medians over the traces that have
 * the root. Steps a trace lacks (a persist without a fsync of its own) are left out of its medians.
 */
export function timelineOf(spans: readonly TimelineSpan[], rootName: string): TimelineStep[] {
  const byTrace = new Map<string, TimelineSpan[]>();
  for (const span of spans) {
    let list = byTrace.get(span.traceId);
    if (list === undefined) {
      list = [];
      byTrace.set(span.traceId, list);
    }
    list.push(span);
  }
  const offsets = new Map<string, { starts: number[]; ends: number[] }>();
  const record = (step: string, root: TimelineSpan, span: TimelineSpan): void => {
    let entry = offsets.get(step);
    if (entry === undefined) {
      entry = { starts: [], ends: [] };
      offsets.set(step, entry);
    }
    entry.starts.push((span.startUs - root.startUs) / 1000);
    entry.ends.push((span.endUs - root.startUs) / 1000);
  };
  for (const list of byTrace.values()) {
    const root = list.find((span) => span.name === rootName && span.parentSpanId === '');
    if (root === undefined) continue;
    const byId = new Map(list.map((span) => [span.spanId, span]));
    const parentName = (span: TimelineSpan): string => byId.get(span.parentSpanId)?.name ?? '';
    const replicates = list.filter((span) => span.name === 'replicate').sort((a, b) => a.endUs - b.endUs);
    for (const span of list) {
      if (span === root) continue;
      let step = `${span.name} (${span.process})`;
      if (span.name === 'replicate') step = `replicate, answer ${replicates.indexOf(span) + 1}`;
      else if (span.name === 'append' || (span.name === 'persist' && parentName(span) === 'append')) {
        const replicate = byId.get(
          span.name === 'append' ? span.parentSpanId : (byId.get(span.parentSpanId)?.parentSpanId ?? ''),
        );
        const rank = replicate === undefined ? 0 : replicates.indexOf(replicate) + 1;
        step = span.name === 'append' ? `follower ${rank}: append` : `follower ${rank}: persist (fsync)`;
      } else if (span.name === 'persist') step = 'leader: persist (fsync)';
      else if (span.name.startsWith('produce ')) step = 'leader: produce (gRPC handler)';
      else if (span.name.startsWith('send ')) step = 'client: send (one Produce call)';
      else if (span.name === 'propose' || span.name === 'commit' || span.name === 'ack') step = `leader: ${span.name}`;
      record(step, root, span);
    }
    record(`${rootName} (application's await)`, root, root);
  }
  return [...offsets.entries()]
    .map(([step, { starts, ends }]) => ({
      step,
      startMs: median(starts),
      endMs: median(ends),
      durationMs: median(ends.map((end, i) => end - (starts[i] as number))),
      traces: starts.length,
    }))
    .sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
}
