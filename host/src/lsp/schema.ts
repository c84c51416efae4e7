// The pod file JSON Schema (manifests/pod.schema.json) as the language server reads it: which
// keys a table may hold, what each means, which values an enum allows. The schema is the single
// source of truth, so hover text and completions never drift from what `tspod lint` checks.
import { readFileSync } from 'node:fs';

/** The subset of draft-07 the pod schema uses. */
export interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly items?: SchemaNode;
  readonly deprecated?: boolean;
  readonly 'x-tspod-replaced-by'?: string;
}

/** A key path through the document: table and key names; array indices are left out. */
export type KeyPath = readonly string[];

let cached: SchemaNode | undefined;

/** Read once: the schema ships next to dist/ (repo/manifests), like package.json for `version`. */
export function podSchema(): SchemaNode {
  cached ??= JSON.parse(readFileSync(new URL('../../../../manifests/pod.schema.json', import.meta.url), 'utf8')) as SchemaNode;
  return cached;
}

/** The table an entry describes: an array of tables ([[app]]) is described by its items. */
export function tableSchema(node: SchemaNode): SchemaNode {
  return node.items && typeof node.items === 'object' ? node.items : node;
}

/** The schema of key `name` inside `node`, through a declared property or additionalProperties. */
export function childSchema(node: SchemaNode, name: string): SchemaNode | undefined {
  const table = tableSchema(node);
  const declared = table.properties?.[name];
  if (declared) return declared;
  return typeof table.additionalProperties === 'object' ? table.additionalProperties : undefined;
}

/** The schema of the value at `path`, or undefined when the schema does not know it. */
export function schemaAt(path: KeyPath, root: SchemaNode = podSchema()): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const name of path) {
    if (!node) return undefined;
    node = childSchema(node, name);
  }
  return node;
}

/** The declared keys of the table at `path` (none for free-form tables such as labels). */
export function keysOf(path: KeyPath): ReadonlyArray<[string, SchemaNode]> {
  const node = schemaAt(path);
  return node ? Object.entries(tableSchema(node).properties ?? {}) : [];
}

export function typeLabel(node: SchemaNode): string {
  const t = node.type;
  if (t === 'array' && node.items) return `array of ${typeLabel(node.items)}`;
  if (Array.isArray(t)) return t.join(' | ');
  return typeof t === 'string' ? t : 'any';
}

/** Hover text: the key, its type, its description, and its allowed values when it is an enum. */
export function describeKey(name: string, node: SchemaNode): string {
  const parts = [`**${name}** (${typeLabel(node)})`];
  if (node.description) parts.push(node.description);
  const values = enumValues(node);
  if (values.length > 0) parts.push(`Allowed values: ${values.map((v) => `\`${JSON.stringify(v)}\``).join(', ')}`);
  if (node.deprecated) {
    const by = node['x-tspod-replaced-by'];
    parts.push(by ? `*Deprecated*: use \`${by}\`.` : '*Deprecated*.');
  }
  return parts.join('\n\n');
}

/** The enum of a value, or of an array's items (insecure_options = ["image", ...]). */
export function enumValues(node: SchemaNode): readonly unknown[] {
  return node.enum ?? node.items?.enum ?? [];
}

export interface TableName {
  readonly path: string;
  /** `[[name]]` for arrays of tables, `[name]` for tables. */
  readonly array: boolean;
  readonly node: SchemaNode;
}

/** Every table header the schema allows, e.g. `app`, `app.security.capabilities`, `restart`. */
export function tableNames(root: SchemaNode = podSchema(), prefix = ''): TableName[] {
  const out: TableName[] = [];
  for (const [name, node] of Object.entries(tableSchema(root).properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const isArrayOfTables = node.type === 'array' && node.items?.type === 'object';
    if (node.type !== 'object' && !isArrayOfTables) continue;
    out.push({ path, array: isArrayOfTables, node });
    out.push(...tableNames(node, path));
  }
  return out;
}
