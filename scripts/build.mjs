// Builds everything ahead of time: the AssemblyScript core to WASM, then the TypeScript host.
// Runs from `npm ci` (prepare) and `npm test`; artifacts go to dist/ and are never committed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const CORE_ENTRIES = ['hash', 'tar', 'lint'];

function runGenerators() {
  const genDir = join(root, 'core', 'gen');
  if (!existsSync(genDir)) return;
  for (const f of readdirSync(genDir).filter((n) => n.endsWith('.mjs')).sort()) {
    execFileSync(process.execPath, [join(genDir, f)], { stdio: 'inherit', cwd: root });
  }
}

async function buildCore() {
  const asc = (await import('assemblyscript/asc')).default;
  const outDir = join(root, 'dist', 'core');
  mkdirSync(outDir, { recursive: true });
  const digests = {};
  for (const name of CORE_ENTRIES) {
    const entry = join(root, 'core', 'assembly', `${name}.ts`);
    const out = join(outDir, `${name}.wasm`);
    // asconfig.json's release target: -O3 --noAssert --runtime stub (static memory regions only,
    // so the core needs no GC).
    const { error, stderr } = await asc.main([
      entry, '--config', join(root, 'asconfig.json'), '--target', 'release', '--outFile', out,
    ], { stdout: process.stdout, stderr: process.stderr });
    if (error) {
      console.error(stderr.toString());
      throw new Error(`asc failed for ${entry}: ${error.message}`);
    }
    digests[name] = createHash('sha256').update(readFileSync(out)).digest('hex');
  }
  // Recorded so the loader can refuse a swapped or stale artifact.
  writeFileSync(join(outDir, 'digests.json'), JSON.stringify(digests, null, 2) + '\n');
}

function buildHost() {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], {
    stdio: 'inherit', cwd: root,
  });
}

/**
 * The stage1 (native/stage1/tspod-stage1.c): single-threaded C, because Node may not fork or
 * unshare itself. Built with the system's gcc; -static so the binary stage0 re-executes from a
 * sealed memfd needs no loader or libraries from anywhere.
 */
function buildStage1() {
  const outDir = join(root, 'dist', 'native');
  mkdirSync(outDir, { recursive: true });
  const cc = process.env.CC ?? 'gcc';
  const flags = ['-O2', '-Wall', '-Wextra', '-Wno-format-truncation', '-D_FORTIFY_SOURCE=2', '-static'];
  execFileSync(cc, [...flags, '-o', join(outDir, 'tspod-stage1'), join(root, 'native', 'stage1', 'tspod-stage1.c')], { stdio: 'inherit', cwd: root });
}

runGenerators();
await buildCore();
buildStage1();
buildHost();
