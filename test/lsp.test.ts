// `tspod lsp --stdio` as an editor sees it: the real CLI in a child process, spoken to over
// JSON-RPC. Diagnostics must match what the lint engine reports, moved to LSP's 0-based UTF-16
// positions; hover and completion come from the pod schema.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node.js';
import { lintPodText } from '../host/src/podfile/lint.js';
import { toLspDiagnostic } from '../host/src/lsp/server.js';
import { completionContext, keyAt } from '../host/src/lsp/context.js';

const TSPOD = fileURLToPath(new URL('../../bin/tspod.js', import.meta.url));
const URI = 'file:///tmp/tspod-lsp-test/pod.toml';

interface Position { line: number; character: number }
interface LspDiagnostic { range: { start: Position; end: Position }; severity?: number; code?: string | number; source?: string; message: string }
interface PublishParams { uri: string; version?: number; diagnostics: LspDiagnostic[] }
interface CompletionItem { label: string; textEdit?: { newText: string } }

// Line 3: an unknown key. Line 4: a wrong type after a non-BMP character (😀 is two UTF-16 units,
// so a server counting code points would be one column short).
const BROKEN = [
  'apiVersion = "tspod/v1"',
  'kind = "Pod"',
  'name = "demo"',
  'bogus_key = true',
  'labels = { smile = "😀", team = 42 }',
  '',
  '[[app]]',
  'name = "web"',
  // Pinned by digest, so the fixed file is clean (an unpinned image is an info diagnostic).
  'image = "example.com/web@sha256:4c1e1f2c7a8a0b5d9e3f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70819"',
  '',
].join('\n');
const FIXED = BROKEN.replace('bogus_key = true\n', '').replace('team = 42', 'team = "core"');

let child: ChildProcessWithoutNullStreams;
let rpc: MessageConnection;
let stderr = '';
const published: PublishParams[] = [];
const waiters: Array<() => void> = [];

/** The next publishDiagnostics for URI after `count` have arrived. */
async function diagnosticsNumber(count: number): Promise<PublishParams> {
  while (published.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  return published[count - 1]!;
}

/** Where `needle` starts on `line` of `text`, in UTF-16 units (JS string indices). */
function columnOf(text: string, line: number, needle: string): number {
  const col = text.split('\n')[line]!.indexOf(needle);
  assert.ok(col >= 0, `${needle} on line ${line}`);
  return col;
}

describe('tspod lsp --stdio', () => {
  before(async () => {
    child = spawn(process.execPath, [TSPOD, 'lsp', '--stdio'], { stdio: 'pipe' });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    rpc.onNotification('textDocument/publishDiagnostics', (params: PublishParams) => {
      if (params.uri !== URI) return;
      published.push(params);
      for (const wake of waiters.splice(0)) wake();
    });
    rpc.listen();
    const init = (await rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} })) as { capabilities: Record<string, unknown> };
    assert.ok(init.capabilities['hoverProvider'], stderr);
    assert.ok(init.capabilities['completionProvider']);
    await rpc.sendNotification('initialized', {});
  });

  after(() => {
    rpc?.dispose();
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  test('didOpen publishes the lint diagnostics at 0-based UTF-16 positions', async () => {
    await rpc.sendNotification('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'toml', version: 1, text: BROKEN } });
    const { diagnostics, version } = await diagnosticsNumber(1);
    assert.equal(version, 1);
    assert.deepEqual(diagnostics, lintPodText(BROKEN).map(toLspDiagnostic));
    for (const d of diagnostics) assert.equal(d.source, 'tspod');

    const unknown = diagnostics.find((d) => d.range.start.line === 3);
    assert.ok(unknown, `a diagnostic on bogus_key: ${JSON.stringify(diagnostics)}`);
    assert.deepEqual(unknown.range, { start: { line: 3, character: 0 }, end: { line: 3, character: 'bogus_key'.length } });
    assert.equal(unknown.severity, 1);
    assert.match(String(unknown.code), /^TSPOD_L_/);

    const wrongType = diagnostics.find((d) => d.range.start.line === 4);
    assert.ok(wrongType, `a diagnostic on team = 42: ${JSON.stringify(diagnostics)}`);
    // The value carries it; `42` sits after the emoji, so its column counts 😀 as two units.
    const value = columnOf(BROKEN, 4, '42');
    assert.deepEqual(wrongType.range, { start: { line: 4, character: value }, end: { line: 4, character: value + 2 } });
  });

  test('didChange that fixes the file publishes what lint says of it (nothing)', async () => {
    await rpc.sendNotification('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: FIXED }] });
    const { diagnostics, version } = await diagnosticsNumber(2);
    assert.equal(version, 2);
    assert.deepEqual(diagnostics, lintPodText(FIXED).map(toLspDiagnostic));
    assert.deepEqual(diagnostics, []);
  });

  test('hover on a key shows its schema description and enum values', async () => {
    const text = 'stage1 = "kvm"\n[app.security.capabilities]\nretain = []\n';
    await rpc.sendNotification('textDocument/didChange', { textDocument: { uri: URI, version: 3 }, contentChanges: [{ text }] });
    const onStage1 = (await rpc.sendRequest('textDocument/hover', { textDocument: { uri: URI }, position: { line: 0, character: 3 } })) as { contents: { kind: string; value: string } };
    assert.equal(onStage1.contents.kind, 'markdown');
    assert.match(onStage1.contents.value, /How the pod is isolated/);
    assert.match(onStage1.contents.value, /"cgroups".*"fly".*"kvm"/);
    const onRetain = (await rpc.sendRequest('textDocument/hover', { textDocument: { uri: URI }, position: { line: 2, character: 1 } })) as { contents: { value: string } };
    assert.match(onRetain.contents.value, /Keep only these capabilities/);
    const onValue = await rpc.sendRequest('textDocument/hover', { textDocument: { uri: URI }, position: { line: 0, character: 11 } });
    assert.equal(onValue, null);
  });

  test('completion offers the missing keys of [[app]] and the enum values of stage1', async () => {
    const text = 'stage1 = \n\n[[app]]\nname = "web"\n\n';
    await rpc.sendNotification('textDocument/didChange', { textDocument: { uri: URI, version: 4 }, contentChanges: [{ text }] });
    const complete = async (line: number, character: number) =>
      ((await rpc.sendRequest('textDocument/completion', { textDocument: { uri: URI }, position: { line, character } })) as CompletionItem[]).map((i) => i.label);
    const inApp = await complete(4, 0);
    assert.ok(inApp.includes('image') && inApp.includes('exec') && inApp.includes('security'), inApp.join(' '));
    assert.ok(!inApp.includes('name'), 'name is already there');
    assert.deepEqual(await complete(0, 9), ['"cgroups"', '"fly"', '"kvm"']);
  });

  test('didClose clears the diagnostics of the file', async () => {
    // Every didChange above published once (before its hover/completion answer), so this is the 5th.
    await rpc.sendNotification('textDocument/didClose', { textDocument: { uri: URI } });
    assert.deepEqual((await diagnosticsNumber(5)).diagnostics, []);
  });

  test('shutdown then exit ends the server with status 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await rpc.sendRequest('shutdown');
    await rpc.sendNotification('exit');
    assert.equal(await exited, 0, stderr);
  });
});

describe('lsp cursor context', () => {
  const POD = 'labels = { tier = "x" }\nhosts = [{ ip = "1.2.3.4" }]\n[[app]]\nsecurity.no_new_privileges = true\n"image" = "x"\n[app.security.capabilities]\nretain = []\n';
  const pathAt = (text: string, line: number, character: number) => keyAt(text, { line, character })?.path.join('.');

  test('hover resolves inline tables, arrays of them, dotted and quoted keys, headers', () => {
    assert.equal(pathAt(POD, 0, 12), 'labels.tier');
    assert.equal(pathAt(POD, 1, 12), 'hosts.ip');
    assert.equal(pathAt(POD, 3, 3), 'app.security');
    assert.equal(pathAt(POD, 3, 12), 'app.security.no_new_privileges');
    assert.equal(pathAt(POD, 4, 2), 'app.image');
    assert.equal(pathAt(POD, 5, 18), 'app.security.capabilities');
    assert.equal(pathAt(POD, 6, 0), 'app.security.capabilities.retain');
    assert.equal(pathAt(POD, 6, 10), undefined);
  });

  test('hover still works on a file that does not parse', () => {
    const broken = '[restart]\npolicy = \n[[app]]\nsecurity.oom_score_adj = \n';
    assert.equal(pathAt(broken, 0, 3), 'restart');
    assert.equal(pathAt(broken, 1, 2), 'restart.policy');
    assert.equal(pathAt(broken, 3, 12), 'app.security.oom_score_adj');
  });

  test('completion context: headers, keys under a dotted prefix, values after =', () => {
    assert.deepEqual(completionContext('[[ap', { line: 0, character: 4 }), { kind: 'header', array: true, from: 2 });
    const key = completionContext('[[app]]\nname = "a"\nsecurity.', { line: 2, character: 9 });
    assert.deepEqual(key?.kind === 'key' && [key.table, [...key.present], key.from], [['app', 'security'], [], 9]);
    const top = completionContext('name = "a"\nst', { line: 1, character: 2 });
    assert.deepEqual(top?.kind === 'key' && [top.table, [...top.present], top.from], [[], ['name'], 0]);
    assert.deepEqual(completionContext('[restart]\npolicy = "al', { line: 1, character: 12 }), { kind: 'value', path: ['restart', 'policy'], from: 9 });
    assert.equal(completionContext('name = "a" ', { line: 0, character: 11 }), undefined);
  });
});
