// Limits that stop hostile or runaway archives early. Defaults fit real root filesystems with room
// to spare; every one has a flag on `tspod util extract`.
export interface ExtractLimits {
  readonly maxEntries: number;
  /** Bytes of an entry's path as written in the archive. */
  readonly maxPathLength: number;
  /** Sum of the sizes of all file entries. */
  readonly maxTotalBytes: number;
  /** Decompressed bytes per compressed byte, checked once past RATIO_GRACE_BYTES. */
  readonly maxExpansionRatio: number;
}

export const DEFAULT_LIMITS: ExtractLimits = {
  maxEntries: 1_000_000,
  maxPathLength: 4096,
  maxTotalBytes: 64 * 2 ** 30,
  maxExpansionRatio: 250,
};

/** Small archives legitimately compress far better (a few files of zeros); bombs are large. */
export const RATIO_GRACE_BYTES = 64 * 2 ** 20;

export function withDefaults(partial: Partial<ExtractLimits> | undefined): ExtractLimits {
  return { ...DEFAULT_LIMITS, ...partial };
}
