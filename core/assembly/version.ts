// The core's version, recorded in every exported hash state (and readable by other core modules),
// so a state written by a different core build can be recognised and refused.
// Bump it whenever a core change could make saved state mean something else.
export const CORE_VERSION: u32 = 1;
