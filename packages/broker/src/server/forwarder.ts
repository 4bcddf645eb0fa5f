/**
 * Produce requests that reach a broker which does not lead a partition are forwarded to the
 * leader over the ordinary client API of that broker (same port), marked as forwarded so that
 * they are never forwarded twice: stale client metadata costs one hop, never an error. The same
 * channels ask peers which feature levels they read, and read single records for the group
 * coordinators (marked forwarded too: the leader does not count them as consumed).
 */
import * as grpc from '@grpc/grpc-js';
import type { Context } from '@opentelemetry/api';
import { createStreamBusRpcClient } from '@streambus/proto';
import type {
  DescribeFeaturesResponse,
  FetchRequest,
  FetchResponse,
  ProduceRequest,
  ProduceResponse,
  StreamBusRpcClient,
} from '@streambus/proto';
import type { NodeId } from '@streambus/raft';
import { insecurePeerCredentials, peerChannelOptions } from '../security/tls/peer-credentials.js';
import type { BrokerTracer } from '../tracing/broker-tracer.js';

/** gRPC metadata key set on forwarded requests; its value is the forwarding broker's id. */
export const forwardedMetadataKey = 'streambus-forwarded-by';

export class Forwarder {
  private readonly clients = new Map<
    NodeId,
    { readonly client: StreamBusRpcClient; readonly credentials: grpc.ChannelCredentials }
  >();

  /**
   * `credentialsFor` gives the credentials to dial a peer with now (mutual TLS checking its broker
   * id, or plaintext); a new value (a rotated certificate) makes a new channel.
   */
  constructor(
    private readonly nodeId: NodeId,
    private readonly peers: ReadonlyMap<NodeId, string>,
    private readonly tracer?: BrokerTracer,
    private readonly credentialsFor: (peerId: NodeId) => grpc.ChannelCredentials = insecurePeerCredentials,
  ) {}

  /** True when `leaderId` is a peer this broker can forward to. */
  canForwardTo(leaderId: NodeId): boolean {
    return leaderId !== this.nodeId && this.peers.has(leaderId);
  }

  /**
   * Forwards `request` to `leaderId`; an abort of `signal` cancels it (CANCELLED). `trace` (the
   * forward span's context) travels as W3C `traceparent` in the call's metadata.
   */
  produce(
    leaderId: NodeId,
    request: ProduceRequest,
    deadlineMs: number,
    signal: AbortSignal,
    trace?: Context,
  ): Promise<ProduceResponse> {
    const metadata = new grpc.Metadata();
    metadata.set(forwardedMetadataKey, String(this.nodeId));
    this.tracer?.injectMetadata(trace, metadata);
    return this.client(leaderId).Produce(request, { deadlineMs, metadata, signal });
  }

  /** Asks peer `brokerId` which feature levels it reads (DescribeFeatures, local_only). */
  describeFeatures(brokerId: NodeId, deadlineMs: number): Promise<DescribeFeaturesResponse> {
    return this.client(brokerId).DescribeFeatures({ localOnly: true, timeoutMs: 0 }, { deadlineMs });
  }

  /**
   * Sends a Fetch of the broker's own to `leaderId` (the unconsumed record ages), marked as
   * forwarded: it is no consumer, so the leader leaves it out of its consumed counters.
   */
  fetch(leaderId: NodeId, request: FetchRequest, deadlineMs: number): Promise<FetchResponse> {
    const metadata = new grpc.Metadata();
    metadata.set(forwardedMetadataKey, String(this.nodeId));
    return this.client(leaderId).Fetch(request, { deadlineMs, metadata });
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(id: NodeId): StreamBusRpcClient {
    const credentials = this.credentialsFor(id);
    const cached = this.clients.get(id);
    if (cached !== undefined && cached.credentials === credentials) return cached.client;
    // Calls already started on the old channel finish on it; grpc-js refuses only new ones.
    cached?.client.close();
    const address = this.peers.get(id);
    if (address === undefined) throw new Error(`broker ${id} is not a known peer`);
    const client = createStreamBusRpcClient(address, { credentials, channelOptions: peerChannelOptions(id) });
    this.clients.set(id, { client, credentials });
    return client;
  }
}

/** True when a call was forwarded by another broker (it must not be forwarded again). */
export function isForwarded(metadata: grpc.Metadata): boolean {
  return metadata.get(forwardedMetadataKey).length > 0;
}
