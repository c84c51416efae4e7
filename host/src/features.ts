// What this build and host can do, for `tspod version` and for tests that skip with a reason.
import { instantiateCore } from './core/wasm.js';
import type { Result } from './result.js';
import type { TspodError } from './errors.js';

export interface Features {
  readonly coreVersion: number;
  readonly flags: Record<string, boolean>;
}

const AT_FDCWD = -100;

/** openat2(2) exists since Linux 5.6; the extractor falls back to per-component openat without it. */
export async function hasOpenat2(): Promise<boolean> {
  const libc = await import('../../native/src/libc.js');
  const fd = libc.openat2(AT_FDCWD, '/', libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, 0);
  if (fd < 0) return false;
  libc.close(fd);
  return true;
}

export function detectFeatures(openat2: boolean): Result<Features, TspodError> {
  return instantiateCore('hash').map((inst) => {
    const version = inst.exports['core_version'] as () => number;
    return {
      coreVersion: version(),
      flags: {
        WASM_CORE: true,
        OPENAT2: openat2,
      },
    };
  });
}
