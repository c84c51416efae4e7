// Loads the AssemblyScript core the undici way: each module is read, checked against the digest
// recorded at build time and compiled once, lazily, on first use; callers get fresh instances
// (each hasher or walker owns its memory, so many can run side by side).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';

export type CoreModuleName = 'hash' | 'tar' | 'lint';

const modules = new Map<CoreModuleName, WebAssembly.Module>();
let digests: Record<string, string> | undefined;

function coreUrl(file: string): URL {
  // dist/host/src/core/wasm.js -> dist/core/<file>
  return new URL(`../../../core/${file}`, import.meta.url);
}

function coreError(name: string, why: string, cause?: unknown): TspodError {
  return tspodError(
    ErrorCodes.CORE,
    `load the WASM core module ${name}`,
    why,
    'rebuild tspod with `npm run build` (or reinstall it with `npm ci`)',
    cause,
  );
}

function compileModule(name: CoreModuleName): Result<WebAssembly.Module, TspodError> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(coreUrl(`${name}.wasm`));
    digests ??= JSON.parse(readFileSync(coreUrl('digests.json'), 'utf8')) as Record<string, string>;
  } catch (e) {
    return err(coreError(name, 'the built artifact is missing', e));
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (digests[name] !== actual) {
    return err(coreError(name, `its sha256 ${actual} differs from the digest recorded at build time`));
  }
  try {
    return ok(new WebAssembly.Module(bytes));
  } catch (e) {
    return err(coreError(name, 'WebAssembly compilation failed', e));
  }
}

const imports = {
  env: {
    // Only reached on a core bug: the core returns status codes and never aborts on bad input.
    abort(_msg: number, _file: number, line: number, col: number): never {
      throw new Error(`tspod core aborted at ${line}:${col}`);
    },
  },
};

/** A new instance of a core module; the module itself is compiled once per process. */
export function instantiateCore(name: CoreModuleName): Result<WebAssembly.Instance, TspodError> {
  const cached = modules.get(name);
  const mod = cached ? ok(cached) : compileModule(name);
  return mod.andThen((m) => {
    modules.set(name, m);
    try {
      return ok(new WebAssembly.Instance(m, imports));
    } catch (e) {
      return err(coreError(name, 'instantiation failed', e));
    }
  });
}
