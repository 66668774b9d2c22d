// Types of @rvf/node: the API of @ruvector/rvf-node 0.2.3 (same names and
// shapes), plus the Promise variants and buildIndex. Differences in
// behaviour: README.md, "Differences from the reference".

/** Options for creating a store (and for derive, which must agree with the parent). */
export interface RvfOptions {
  /** Vector dimensionality, 1..65535 (required). */
  dimension: number
  /** "l2" (squared, default) | "inner_product" ("ip", "InnerProduct") | "cosine" ("Cosine", "L2"). */
  metric?: string
  /** Hardware profile 0..255 (0 Generic, 1 Core, 2 Hot, 3 Full); stored and reported. */
  profile?: number
  /** "None" | "Scalar" | "Product" (and lower case): validated, no effect (as the reference). */
  compression?: string
  /** Validated, no effect (as the reference); sign with `rvf sign`. */
  signing?: boolean
  /** HNSW M for buildIndex (default 16). */
  m?: number
  /** HNSW ef_construction for buildIndex (default 200). */
  efConstruction?: number
}

/** Query options. */
export interface RvfQueryOptions {
  /** HNSW ef_search, an integer in 1..1000000, used as given when the store has an index (default: the stored one, else max(64, k)). */
  efSearch?: number
  /** Filter as a JSON string: {"op":"eq","fieldId":0,"valueType":"string","value":"a"}, and/or/not/in/range. */
  filter?: string
  /** Time budget of the HNSW search in ms, an integer in 0..2^32-1 (0 = none); running out throws RVF error 0x0205: Timeout. */
  timeoutMs?: number
}

export interface RvfSearchResult {
  /** The vector id (a JS number; ids this binding writes are integers in 0..2^53-1; larger ones in other writers' files lose precision, 2^64-1 is -1, as the reference). */
  id: number
  /** Squared L2, 1 - cos, or the negated dot product: smaller is closer. */
  distance: number
}

export interface RvfIngestResult {
  accepted: number
  /** Rows of another dimension, or with NaN / Inf components. */
  rejected: number
  epoch: number
}

export interface RvfDeleteResult {
  /** Ids that were live and are now deleted. */
  deleted: number
  epoch: number
}

export interface RvfStatus {
  totalVectors: number
  totalSegments: number
  fileSize: number
  currentEpoch: number
  profileId: number
  /** Always "idle". */
  compactionState: string
  /** Deleted / stored vectors. */
  deadSpaceRatio: number
  readOnly: boolean
}

export interface RvfCompactionResult {
  /** Deleted vectors purged (the reference's name). */
  segmentsCompacted: number
  /** Bytes the file shrank by. */
  bytesReclaimed: number
  epoch: number
}

/** One metadata entry; `value` is a string parsed per `valueType`. */
export interface RvfMetadataEntry {
  /** 0..65535 */
  fieldId: number
  /** "u64" | "i64" | "f64" | "string" */
  valueType: string
  value: string
}

export interface RvfKernelData {
  /** The 128-byte kernel header. */
  header: Buffer
  /** The kernel image (without the command line, unlike the reference). */
  image: Buffer
  /** The kernel command line ("" if none). */
  cmdline: string
}

export interface RvfEbpfData {
  /** The 64-byte eBPF header. */
  header: Buffer
  /** Program bytes followed by the BTF bytes. */
  payload: Buffer
}

export interface RvfSegmentInfo {
  id: number
  offset: number
  payloadLength: number
  /** "vec", "manifest", "meta", "index", "index_log", "kernel", "ebpf", ... or "unknown(0xNN)". */
  segType: string
}

export interface RvfIndexStats {
  /** Graph nodes (0 when the store has no index). */
  indexedVectors: number
  /** Graph layers (0 when no index). */
  layers: number
  m: number
  efConstruction: number
  /** The file's index was unusable; the next ingest rebuilds it. */
  needsRebuild: boolean
}

export interface RvfIndexBuildOptions {
  m?: number
  efConstruction?: number
}

/**
 * Metadata for ingestBatch: one flat list split evenly over the rows
 * (entry i belongs to row i / (entries / rows)), or one list per row.
 */
export type RvfMetadata = Array<RvfMetadataEntry> | Array<Array<RvfMetadataEntry>>

export declare class RvfDatabase {
  private constructor()
  static create(path: string, options: RvfOptions): RvfDatabase
  static open(path: string): RvfDatabase
  static openReadonly(path: string): RvfDatabase
  ingestBatch(vectors: Float32Array, ids: Array<number>, metadata?: RvfMetadata | undefined | null): RvfIngestResult
  query(vector: Float32Array, k: number, options?: RvfQueryOptions | undefined | null): Array<RvfSearchResult>
  delete(ids: Array<number>): RvfDeleteResult
  deleteByFilter(filterJson: string): RvfDeleteResult
  compact(): RvfCompactionResult
  status(): RvfStatus
  close(): void
  fileId(): string
  parentId(): string
  lineageDepth(): number
  /** An empty child recording this store as its parent. */
  derive(childPath: string, options?: RvfOptions | undefined | null): RvfDatabase
  /** A child that reads through to this store's vectors and takes its own writes on top. */
  branch(childPath: string): RvfDatabase
  embedKernel(arch: number, kernelType: number, flags: number, image: Buffer | Uint8Array, apiPort: number, cmdline?: string | undefined | null): number
  extractKernel(): RvfKernelData | null
  embedEbpf(programType: number, attachType: number, maxDimension: number, bytecode: Buffer | Uint8Array, btf?: Buffer | Uint8Array | undefined | null): number
  extractEbpf(): RvfEbpfData | null
  segments(): Array<RvfSegmentInfo>
  dimension(): number
  indexStats(): RvfIndexStats
  /** Seals the file (persisted); returns the epoch. */
  freeze(): number
  metric(): string
  /** Builds the HNSW index over every stored vector now and persists it. */
  buildIndex(options?: RvfIndexBuildOptions | undefined | null): void
  ingestBatchAsync(vectors: Float32Array, ids: Array<number>, metadata?: RvfMetadata | undefined | null): Promise<RvfIngestResult>
  queryAsync(vector: Float32Array, k: number, options?: RvfQueryOptions | undefined | null): Promise<Array<RvfSearchResult>>
  deleteAsync(ids: Array<number>): Promise<RvfDeleteResult>
  deleteByFilterAsync(filterJson: string): Promise<RvfDeleteResult>
  compactAsync(): Promise<RvfCompactionResult>
  buildIndexAsync(options?: RvfIndexBuildOptions | undefined | null): Promise<void>
}
