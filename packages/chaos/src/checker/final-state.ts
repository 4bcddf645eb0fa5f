/** The final state of every replica of every partition, as the checkers read it after a run. */

/** One record of a replica's log, its value decoded as UTF-8. */
export interface ReplicaRecord {
  readonly offset: number;
  readonly value: string;
}

export interface ReplicaLog {
  readonly brokerId: number;
  /** The replica's high watermark (its applied state's next offset). */
  readonly highWatermark: number;
  /** Stored batches up to the high watermark, in order, byte for byte. */
  readonly batches: readonly StoredBatchBytes[];
  readonly records: readonly ReplicaRecord[];
  /** A stored batch failed its CRC on this replica (detected and refused, not served). */
  readonly corrupt: boolean;
}

export interface StoredBatchBytes {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly data: Uint8Array;
}

export interface PartitionFinalState {
  readonly topic: string;
  readonly partition: number;
  readonly groupId: number;
  readonly replicas: readonly ReplicaLog[];
}
