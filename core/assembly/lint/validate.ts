// The schema walk: every node against the shape the generated tables give for its place.
import {
  ENUM_VALUES, PROP_NAME, PROP_REPLACED_BY, PROP_SHAPE, REQUIRED, SHAPE_ADDL, SHAPE_ENUM_COUNT, SHAPE_ENUM_START,
  SHAPE_FORMAT, SHAPE_ITEMS, SHAPE_MAX, SHAPE_MIN, SHAPE_MIN_ITEMS, SHAPE_PATH, SHAPE_PROP_COUNT, SHAPE_PROP_START,
  SHAPE_REQ_COUNT, SHAPE_REQ_START, SHAPE_TYPES,
} from '../generated/lint_schema';
import { checkNumberFormat, checkStringFormat } from './formats';
import { closest, didYouMean, Report } from './report';
import { K_ARRAY, K_FLOAT, K_INTEGER, K_STRING, K_TABLE, kindName, Range, Tree, typeMatches, typeNames } from './tree';

export class Validator {
  /** documentName: how the whole document is called in messages, e.g. "the pod file". */
  constructor(public tree: Tree, public report: Report, public documentName: string) {}

  /** How a node is named in messages: its dotted path, e.g. app.resources.memory. */
  private displayPath(shape: i32): string {
    const p = SHAPE_PATH[shape];
    return p.length == 0 ? this.documentName : p.replaceAll('[]', '');
  }

  private tableName(shape: i32): string {
    const p = SHAPE_PATH[shape];
    return p.length == 0 ? this.documentName : `[${p.replaceAll('[]', '')}]`;
  }

  node(i: i32, shape: i32): void {
    const kind = this.tree.kind(i);
    const types = SHAPE_TYPES[shape];
    if (!typeMatches(kind, types)) {
      this.report.error('TSPOD_L_WRONG_TYPE', `${this.displayPath(shape)} must be ${typeNames(types)}, not ${kindName(kind)}.`, this.tree.valueRange(i));
      return;
    }
    if (kind == K_TABLE) this.table(i, shape);
    else if (kind == K_ARRAY) this.array(i, shape);
    else if (kind == K_STRING) this.string(i, shape);
    else if (kind == K_INTEGER || kind == K_FLOAT) this.number(i, shape, kind);
  }

  private table(i: i32, shape: i32): void {
    const start = SHAPE_PROP_START[shape];
    const count = SHAPE_PROP_COUNT[shape];
    for (let c = this.tree.firstChild[i]; c >= 0; c = this.tree.nextSibling[c]) {
      const key = this.tree.key(c);
      const prop = this.findProp(start, count, key);
      if (prop >= 0) {
        this.deprecated(c, prop, key);
        this.node(c, PROP_SHAPE[prop]);
      } else if (SHAPE_ADDL[shape] >= 0) {
        this.node(c, SHAPE_ADDL[shape]);
      } else if (SHAPE_ADDL[shape] == -2) {
        this.report.error('TSPOD_L_UNKNOWN_KEY', `"${key}" is not a key of ${this.tableName(shape)}.${didYouMean(closest(key, PROP_NAME, start, count))} Remove it or fix its name.`, this.tree.keyRange(c));
      }
    }
    const rs = SHAPE_REQ_START[shape];
    for (let r = rs; r < rs + SHAPE_REQ_COUNT[shape]; r++) {
      if (this.tree.child(i, REQUIRED[r]) >= 0) continue;
      this.report.error('TSPOD_L_MISSING_KEY', `${this.tableName(shape)} needs "${REQUIRED[r]}": add it.`, this.tree.keyRange(i));
    }
  }

  private findProp(start: i32, count: i32, key: string): i32 {
    for (let p = start; p < start + count; p++) if (PROP_NAME[p] == key) return p;
    return -1;
  }

  private deprecated(c: i32, prop: i32, key: string): void {
    const by = PROP_REPLACED_BY[prop];
    if (by.length == 0) return;
    const instead = by == '-' ? 'remove it' : `use "${by}" instead`;
    this.report.warning('TSPOD_L_DEPRECATED', `"${key}" is deprecated: ${instead}.`, this.tree.keyRange(c));
  }

  private array(i: i32, shape: i32): void {
    const n = this.tree.childCount(i);
    if (n < SHAPE_MIN_ITEMS[shape]) {
      this.report.error('TSPOD_L_TOO_FEW', `${this.displayPath(shape)} needs at least ${SHAPE_MIN_ITEMS[shape]} item${SHAPE_MIN_ITEMS[shape] == 1 ? '' : 's'}.`, this.tree.valueRange(i));
    }
    const items = SHAPE_ITEMS[shape];
    if (items < 0) return;
    for (let c = this.tree.firstChild[i]; c >= 0; c = this.tree.nextSibling[c]) this.node(c, items);
  }

  private string(i: i32, shape: i32): void {
    const s = this.tree.str(i);
    const es = SHAPE_ENUM_START[shape];
    const en = SHAPE_ENUM_COUNT[shape];
    if (en > 0) {
      for (let e = es; e < es + en; e++) if (ENUM_VALUES[e] == s) return;
      const allowed = new Array<string>();
      for (let e = es; e < es + en; e++) allowed.push(`"${ENUM_VALUES[e]}"`);
      this.report.error('TSPOD_L_BAD_VALUE', `${this.displayPath(shape)} is "${s}", which is not one of ${allowed.join(', ')}.${didYouMean(closest(s, ENUM_VALUES, es, en))}`, this.tree.valueRange(i));
      return;
    }
    const problem = checkStringFormat(SHAPE_FORMAT[shape], s);
    if (problem.length > 0) this.reportProblem(problem, this.tree.valueRange(i));
  }

  private number(i: i32, shape: i32, kind: i32): void {
    if (kind == K_INTEGER) {
      const v = this.tree.int(i);
      if (v < SHAPE_MIN[shape] || v > SHAPE_MAX[shape]) {
        this.report.error('TSPOD_L_OUT_OF_RANGE', `${this.displayPath(shape)} is ${v}; it must be from ${SHAPE_MIN[shape]} to ${SHAPE_MAX[shape]}.`, this.tree.valueRange(i));
        return;
      }
    }
    const value: f64 = kind == K_INTEGER ? <f64>this.tree.int(i) : this.tree.float(i);
    const shown = kind == K_INTEGER ? this.tree.int(i).toString() : value.toString();
    const problem = checkNumberFormat(SHAPE_FORMAT[shape], value, `${this.displayPath(shape)} ${shown}`);
    if (problem.length > 0) this.reportProblem(problem, this.tree.valueRange(i));
  }

  reportProblem(problem: string, range: Range): void {
    const tab = problem.indexOf('\t');
    this.report.error(problem.substring(0, tab), problem.substring(tab + 1), range);
  }
}
