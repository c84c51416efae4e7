// Constants shared by the walker and the host: static regions, record layout, status and reject
// codes. The walker never allocates, so the instance's memory is sized once by these regions and
// memory.buffer never detaches under the host's views.

/** Input region: the host copies at most this many bytes per tar_feed call. */
export const IN_CAP: i32 = 1048576;
/** Pending L/K/x (and the g being read) payloads of one entry, with an 8-byte tag each. */
export const META_CAP: i32 = 1048576;
/** One entry record; see the REC_* offsets. */
export const REC_SIZE: i32 = 96;
/** Records per call. A 1 MiB input can hold 2049 headers, so a chunk of empty files or dirs
 * makes the call stop early and resume (a path that real layers, and the tests, exercise). */
export const REC_CAP: i32 = 1024;
/** String/bytes arena per call. An entry needs at most 2 * META_CAP + 1 KiB (raw and normalized
 * path, link and xattrs all come from pending meta or the 512-byte header), so an empty arena
 * always has room for one entry. */
export const ARENA_CAP: i32 = 4194304;
/** Raw name kept for error messages (truncated past this). */
export const ERR_NAME_CAP: i32 = 4096;

export const IN: usize = memory.data(1048576, 16);
export const CARRY: usize = memory.data(512, 16);
export const META: usize = memory.data(1048576, 16);
export const RECS: usize = memory.data(98304, 16);
export const ARENA: usize = memory.data(4194304, 16);
export const ERR_NAME: usize = memory.data(4096, 16);

// Record layout (little-endian). f64 fields hold integers up to 2^53 exactly, so the host reads
// them with a Float64Array/DataView instead of BigInt.
export const REC_TYPE = 0; // u8, ENT_*
export const REC_REJECT = 1; // u8, REJ_*
export const REC_MODE = 4; // u32, & 07777
export const REC_UID = 8; // u32
export const REC_GID = 12; // u32
export const REC_SIZE_F = 16; // f64, data bytes that follow (0 for header-only types)
export const REC_DATA_OFF = 24; // f64, absolute stream offset of the data
export const REC_MTIME = 32; // f64, seconds (may be negative)
export const REC_NSEC = 40; // u32
export const REC_DEVMAJOR = 44; // u32
export const REC_DEVMINOR = 48; // u32
export const REC_RAW_OFF = 52; // u32 arena offset / u32 length, pairs follow
export const REC_RAW_LEN = 56;
export const REC_PATH_OFF = 60;
export const REC_PATH_LEN = 64;
export const REC_LINK_OFF = 68;
export const REC_LINK_LEN = 72;
export const REC_XATTR_OFF = 76; // arena offset of [u32 nameLen][u32 valueLen][name][value]...
export const REC_XATTR_COUNT = 80;
export const REC_XATTR_BYTES = 84;

// Entry types.
export const ENT_FILE: u8 = 1;
export const ENT_HARDLINK: u8 = 2;
export const ENT_SYMLINK: u8 = 3;
export const ENT_CHAR: u8 = 4;
export const ENT_BLOCK: u8 = 5;
export const ENT_DIR: u8 = 6;
export const ENT_FIFO: u8 = 7;

// Per-entry rejects: the walk goes on, the entry carries the reason.
export const REJ_NONE: u8 = 0;
export const REJ_NUL: u8 = 1;
export const REJ_DOTDOT: u8 = 2;
export const REJ_ABSOLUTE: u8 = 3;
export const REJ_EMPTY: u8 = 4;
export const REJ_LINK_DOTDOT: u8 = 5;
export const REJ_LINK_ABSOLUTE: u8 = 6;

// Fatal statuses (negative returns). Each cause has its own code so the host can say exactly what
// went wrong; the host groups them into its coarser TarWalkStatus.
export const E_BAD_CHECKSUM: i32 = -1;
export const E_TRUNC_HEADER: i32 = -2; // stream ended inside a header block
export const E_TRUNC_DATA: i32 = -3; // stream ended inside an entry's data or padding
export const E_TRUNC_META: i32 = -4; // stream ended inside an L/K/x/g payload
export const E_TRUNC_NO_END: i32 = -5; // stream ended between entries, without the end marker
export const E_ORPHAN_META: i32 = -6; // L/K/x header not followed by an entry
export const E_SIZE_TOO_LARGE: i32 = -7; // size over 2^53
export const E_SIZE_OVER_LIMIT: i32 = -8; // size over the host's configured limit
export const E_NEGATIVE_SIZE: i32 = -9;
export const E_META_TOO_LARGE: i32 = -10;
export const E_BAD_NUMBER: i32 = -11; // header numeric field is not octal/base-256 or out of range
export const E_BAD_PAX_RECORD: i32 = -12; // PAX record framing is broken
export const E_BAD_PAX_NUMBER: i32 = -13; // PAX numeric value is malformed or out of range
export const E_UNSUPPORTED_TYPE: i32 = -14;
export const E_UNSUPPORTED_SPARSE: i32 = -15; // GNU.sparse.* PAX keys
export const E_BAD_ARGUMENT: i32 = -16; // host bug: feed length out of range or feed during resume

// Which field a bad-number error is about (tar_error_field).
export const F_NONE = 0;
export const F_MODE = 1;
export const F_UID = 2;
export const F_GID = 3;
export const F_SIZE = 4;
export const F_MTIME = 5;
export const F_DEVMAJOR = 6;
export const F_DEVMINOR = 7;
export const F_CHECKSUM = 8;
