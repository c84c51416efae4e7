// The pod file language server: diagnostics from the lint engine, hover and completion from the
// pod schema. It speaks LSP over the given streams (stdio for `tspod lsp --stdio`) and keeps
// documents in sync incrementally. On `exit` the LSP library ends the process itself: 0 after
// `shutdown`, 1 without it, as the protocol asks.
import { createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind, CompletionItemKind, CompletionItemTag, MarkupKind, DiagnosticSeverity } from 'vscode-languageserver/node';
import type { CompletionItem, Connection, Diagnostic as LspDiagnostic, Hover, InitializeResult, TextDocumentPositionParams } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from '../podfile/diagnostic.js';
import { completionContext, keyAt, type CompletionContext, type Cursor } from './context.js';
import { describeKey, enumValues, keysOf, schemaAt, tableNames, typeLabel } from './schema.js';

/** The lint engine: the server only turns its findings into LSP diagnostics. */
export type LintFunction = (text: string) => Diagnostic[];

const SEVERITY: Record<Diagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

/** tspod positions are 1-based lines and UTF-16 columns; LSP's are the same counted from 0. */
export function toLspDiagnostic(d: Diagnostic): LspDiagnostic {
  const at = (p: Diagnostic['range']['start']) => ({ line: Math.max(0, p.line - 1), character: Math.max(0, p.column - 1) });
  return { range: { start: at(d.range.start), end: at(d.range.end) }, severity: SEVERITY[d.severity], code: d.rule, source: 'tspod', message: d.message };
}

export function capabilities(): InitializeResult {
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      hoverProvider: true,
      completionProvider: { triggerCharacters: ['[', '.', '=', ' ', '"'] },
    },
    serverInfo: { name: 'tspod' },
  };
}

/** Starts serving on the streams; returns the connection (already listening). */
export function startServer(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, lint: LintFunction): Connection {
  const connection = createConnection(ProposedFeatures.all, input, output);
  const documents = new TextDocuments(TextDocument);
  connection.onInitialize(() => capabilities());
  documents.onDidChangeContent(({ document }) => publish(connection, document, lint));
  // A closed file is no longer the editor's concern: drop what was reported about it.
  documents.onDidClose(({ document }) => void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] }));
  connection.onHover((params) => hover(documents.get(params.textDocument.uri), params));
  connection.onCompletion((params) => complete(documents.get(params.textDocument.uri), params));
  documents.listen(connection);
  connection.listen();
  return connection;
}

function publish(connection: Connection, document: TextDocument, lint: LintFunction): void {
  let diagnostics: LspDiagnostic[];
  try {
    diagnostics = lint(document.getText()).map(toLspDiagnostic);
  } catch (e) {
    // The linter promises not to throw; if it does, say so in the editor rather than go silent.
    diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: DiagnosticSeverity.Error, source: 'tspod', message: `tspod lint failed: ${(e as Error).message}` }];
  }
  void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
}

export function hover(document: TextDocument | undefined, params: TextDocumentPositionParams): Hover | null {
  if (!document) return null;
  const key = keyAt(document.getText(), params.position);
  const node = key && schemaAt(key.path);
  if (!key || !node) return null;
  return {
    contents: { kind: MarkupKind.Markdown, value: describeKey(key.path.join('.'), node) },
    range: { start: { line: key.line, character: key.start }, end: { line: key.line, character: key.end } },
  };
}

export function complete(document: TextDocument | undefined, params: TextDocumentPositionParams): CompletionItem[] {
  if (!document) return [];
  const text = document.getText();
  const context = completionContext(text, params.position);
  if (!context) return [];
  const line = text.split(/\r?\n/)[params.position.line] ?? '';
  switch (context.kind) {
    case 'header': return headerItems(context, params.position);
    case 'key': return keyItems(context, params.position);
    case 'value': return valueItems(context, params.position, line);
  }
}

function replacing(from: number, cursor: Cursor, to = cursor.character) {
  return { start: { line: cursor.line, character: from }, end: { line: cursor.line, character: to } };
}

function headerItems(context: Extract<CompletionContext, { kind: 'header' }>, cursor: Cursor): CompletionItem[] {
  return tableNames()
    .filter((t) => t.array === context.array)
    .map((t) => ({
      label: t.path,
      kind: CompletionItemKind.Module,
      detail: context.array ? `[[${t.path}]]` : `[${t.path}]`,
      documentation: t.node.description && { kind: MarkupKind.Markdown, value: t.node.description },
      textEdit: { range: replacing(context.from, cursor), newText: t.path },
    }));
}

function keyItems(context: Extract<CompletionContext, { kind: 'key' }>, cursor: Cursor): CompletionItem[] {
  return keysOf(context.table)
    .filter(([name]) => !context.present.has(name))
    .map(([name, node]) => ({
      label: name,
      kind: CompletionItemKind.Property,
      detail: typeLabel(node),
      ...(node.deprecated ? { tags: [CompletionItemTag.Deprecated] } : {}),
      documentation: { kind: MarkupKind.Markdown, value: describeKey(name, node) },
      textEdit: { range: replacing(context.from, cursor), newText: name },
    }));
}

function valueItems(context: Extract<CompletionContext, { kind: 'value' }>, cursor: Cursor, line: string): CompletionItem[] {
  const node = schemaAt(context.path);
  if (!node) return [];
  // An editor that auto-closes quotes leaves one after the cursor: replace it too.
  const typed = line.slice(context.from, cursor.character);
  const closing = /^["']/.test(typed) && line[cursor.character] === typed[0] ? cursor.character + 1 : cursor.character;
  const values = node.type === 'boolean' ? [true, false] : node.type === 'array' ? [] : enumValues(node);
  return values.map((v) => ({
    label: JSON.stringify(v),
    kind: CompletionItemKind.EnumMember,
    // Clients filter by the text being replaced, so match it whether a quote was typed or not.
    filterText: /^["']/.test(typed) ? `${typed[0]}${String(v)}` : String(v),
    textEdit: { range: replacing(context.from, cursor, closing), newText: JSON.stringify(v) },
  }));
}
