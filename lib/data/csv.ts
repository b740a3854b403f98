// CSV files into tensors, parsed by csv-parse: numeric feature columns, and a target column that is
// numeric (class indices or regression values) or text (class names, mapped to 0, 1, 2, ...).
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { Tensor } from '../tensor.js';

export interface CsvOptions {
  /** Column to split off as labels/targets: a header name, or a 0-based index (negative counts from the end). */
  target?: string | number;
  /**
   * The first line names the columns (default true); 'auto': a header when some column is text in the
   * first row and a number in the second. Without a header columns are named "0", "1", ...
   */
  header?: boolean | 'auto';
  /** Cell separator (default: detected among , ; tab |). */
  delimiter?: string;
  /** Class names of a text target, in class order (e.g. from a model's metadata); unknown names are an error. */
  labels?: readonly string[];
}

export interface CsvData {
  /** [rows, features] float32: every column except the target. */
  x: Tensor;
  /** [rows] target column: float32 numbers, or int32 class indices for text labels; null without a target. */
  y: Tensor | null;
  /** Names of the feature columns (the columns of x). */
  columns: string[];
  /** Name of the target column, or null. */
  target: string | null;
  /** Class names when the target column holds text (class i is labels[i]), else null. */
  labels: string[] | null;
  /** Whether the first line was taken as a header, and the delimiter used. */
  header: boolean;
  delimiter: string;
}

/** Read a CSV file into tensors; see parseCsv. */
export function loadCsv(file: string, opts: CsvOptions = {}): CsvData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`csv ${file}: cannot read file: ${(e as Error).message}`, { cause: e });
  }
  return parseCsv(text, { ...opts, name: file });
}

const CANDIDATES = [',', ';', '\t', '|'];

/** The candidate delimiter found the same (non-zero) number of times on the first lines, most often; ',' when none is. */
export function detectDelimiter(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/"[^"]*"/g, '')).filter((l) => l.trim() !== '').slice(0, 10);
  let best = ',', bestCount = 0;
  for (const d of CANDIDATES) {
    const counts = lines.map((l) => l.split(d).length - 1);
    if (counts[0] > bestCount && counts.every((c) => c === counts[0])) { best = d; bestCount = counts[0]; }
  }
  return best;
}

const isNumber = (s: string): boolean => s !== '' && !Number.isNaN(Number(s));

/**
 * Parse CSV text. Quoted cells ("a,b", "" for a quote) are understood; blank lines are skipped.
 * Errors name the source, the 1-based line number ("row") in the file, and the column.
 */
export function parseCsv(text: string, opts: CsvOptions & { name?: string } = {}): CsvData {
  const { name = '<string>' } = opts;
  const fail = (msg: string): never => { throw new Error(`csv ${name}: ${msg}`); };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte order mark
  text = text.replace(/\r\n?/g, '\n');
  const delimiter = opts.delimiter ?? detectDelimiter(text);
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    fail(`delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  }
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: true, trim: true, info: true, relax_quotes: false }) as unknown as typeof rows;
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') fail(`row ${err.lines} has an unterminated quoted cell`);
    fail(err.message);
  }
  rows = rows!.filter((r) => !(r.record.length === 1 && r.record[0] === ''));
  if (rows.length === 0) fail('file is empty');

  let header = opts.header ?? true;
  if (header === 'auto') {
    const [a, b] = [rows[0].record, rows[1]?.record ?? []];
    header = a.some((s, c) => !isNumber(s) && b[c] !== undefined && isNumber(b[c])) || (rows.length === 1 && !a.some(isNumber));
  }
  const columns = header ? rows[0].record : rows[0].record.map((_, i) => String(i));
  const body = header ? rows.slice(1) : rows;
  if (header && body.length === 0) fail(`no data rows after the header (${columns.join(', ')})`);
  const width = columns.length;

  let t = -1;
  if (opts.target !== undefined) {
    const avail = `available columns: ${columns.map((c) => JSON.stringify(c)).join(', ')}`;
    if (typeof opts.target === 'number') {
      if (!Number.isInteger(opts.target) || opts.target < -width || opts.target >= width) {
        fail(`target column index ${opts.target} is out of range for ${width} columns; ${avail}`);
      }
      t = opts.target < 0 ? opts.target + width : opts.target;
    } else {
      t = columns.indexOf(opts.target);
      if (t < 0) fail(`no target column ${JSON.stringify(opts.target)}; ${avail}`);
    }
  }
  const at = (line: number, c: number): string => `row ${line}, column ${JSON.stringify(columns[c])}`;
  for (const { record, info } of body) if (record.length !== width) fail(`row ${info.lines} has ${record.length} cells, expected ${width}`);

  // a target with no number at all holds class names (one with some numbers is a numeric column with bad cells)
  const textTarget = t >= 0 && (opts.labels !== undefined || !body.some(({ record }) => isNumber(record[t])));
  let labels: string[] | null = null;
  const classOf = new Map<string, number>();
  if (textTarget) {
    labels = opts.labels ? [...opts.labels] : [...new Set(body.map(({ record }) => record[t]))].sort();
    labels.forEach((l, i) => classOf.set(l, i));
  }

  const nf = t < 0 ? width : width - 1;
  const x = new Float32Array(body.length * nf);
  const y = t < 0 ? null : textTarget ? new Int32Array(body.length) : new Float32Array(body.length);
  for (let r = 0; r < body.length; r++) {
    const { record: cells, info: { lines: line } } = body[r];
    let k = r * nf;
    for (let c = 0; c < width; c++) {
      const s = cells[c];
      if (c === t && textTarget) {
        const cls = classOf.get(s);
        if (cls === undefined) fail(`${at(line, c)}: label ${JSON.stringify(s)} is not one of the model's classes (${labels!.join(', ')})`);
        y![r] = cls!;
        continue;
      }
      if (s === '') fail(`${at(line, c)}: empty cell (missing value)`);
      const v = Number(s);
      if (Number.isNaN(v)) fail(/^[+-]?nan$/i.test(s) ? `${at(line, c)}: NaN is not allowed in the data` : `${at(line, c)}: cell ${JSON.stringify(s)} is not a number`);
      if (!Number.isFinite(v)) fail(`${at(line, c)}: ${s} is not a finite number`);
      if (!Number.isFinite(Math.fround(v))) fail(`${at(line, c)}: ${s} is not a finite number (it overflows float32)`);
      if (c === t) y![r] = v;
      else x[k++] = v;
    }
  }
  return {
    x: new Tensor(x, [body.length, nf]),
    y: y && new Tensor(y, [body.length]),
    columns: columns.filter((_, c) => c !== t),
    target: t < 0 ? null : columns[t],
    labels,
    header,
    delimiter,
  };
}
