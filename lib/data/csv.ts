import { readFileSync } from 'node:fs';
import { Tensor } from '../tensor.js';

export interface CsvOptions {
  /** Column to split off as labels/targets: a header name, or a 0-based index (negative counts from the end). */
  target?: string | number;
  /** The first line names the columns (default true); without a header columns are named "0", "1", ... */
  header?: boolean;
  /** Cell separator (default ','). */
  delimiter?: string;
}

export interface CsvData {
  /** [rows, features] float32: every column except the target. */
  x: Tensor;
  /** [rows] float32 target column (class indices for classification), or null without a target. */
  y: Tensor | null;
  /** Names of the feature columns (the columns of x). */
  columns: string[];
  /** Name of the target column, or null. */
  target: string | null;
}

/** Read a numeric CSV file into tensors; see parseCsv. */
export function loadCsv(file: string, opts: CsvOptions = {}): CsvData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`csv ${file}: cannot read file: ${(e as Error).message}`, { cause: e });
  }
  return parseCsv(text, { ...opts, name: file });
}

/**
 * Parse numeric CSV text. Quoted cells ("a,b", "" for a quote) are understood; blank lines are skipped.
 * Errors name the source, the 1-based line number ("row") in the file, and the column.
 */
export function parseCsv(text: string, opts: CsvOptions & { name?: string } = {}): CsvData {
  const { header = true, delimiter = ',', name = '<string>' } = opts;
  const fail = (msg: string): never => { throw new Error(`csv ${name}: ${msg}`); };
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    fail(`delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte order mark
  const rows = splitRows(text, delimiter, fail);
  if (rows.length === 0) fail('file is empty');

  let columns: string[];
  let body = rows;
  if (header) {
    columns = rows[0].cells.map((c) => c.trim());
    body = rows.slice(1);
    if (body.length === 0) fail(`no data rows after the header (${columns.join(', ')})`);
  } else {
    columns = rows[0].cells.map((_, i) => String(i));
  }
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

  const nf = t < 0 ? width : width - 1;
  const x = new Float32Array(body.length * nf);
  const y = t < 0 ? null : new Float32Array(body.length);
  for (let r = 0; r < body.length; r++) {
    const { cells, line } = body[r];
    if (cells.length !== width) fail(`row ${line} has ${cells.length} cells, expected ${width}`);
    let k = r * nf;
    for (let c = 0; c < width; c++) {
      const s = cells[c].trim();
      const v = s === '' ? NaN : Number(s);
      if (Number.isNaN(v)) {
        fail(s === ''
          ? `row ${line}, column ${JSON.stringify(columns[c])}: empty cell (missing value)`
          : `row ${line}, column ${JSON.stringify(columns[c])}: cell ${JSON.stringify(cells[c])} is not a number`);
      }
      if (c === t) y![r] = v;
      else x[k++] = v;
    }
  }
  return {
    x: new Tensor(x, [body.length, nf]),
    y: y && new Tensor(y, [body.length]),
    columns: columns.filter((_, c) => c !== t),
    target: t < 0 ? null : columns[t],
  };
}

interface Row { cells: string[]; line: number }

/** Split text into rows of cells, with the 1-based line where each row starts. */
function splitRows(text: string, delim: string, fail: (m: string) => never): Row[] {
  const rows: Row[] = [];
  let cells: string[] = [];
  let cell = '';
  let line = 1, rowLine = 1;
  let quoted = false, sawQuote = false;
  const endRow = (): void => {
    cells.push(cell);
    // a blank line is one empty cell: skip it
    if (!(cells.length === 1 && cells[0].trim() === '' && !sawQuote)) rows.push({ cells, line: rowLine });
    cells = []; cell = ''; sawQuote = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true; sawQuote = true; cell = '';
    } else if (ch === delim) {
      cells.push(cell); cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      cell += ch;
    }
  }
  if (quoted) fail(`row ${rowLine} has an unterminated quoted cell`);
  if (cell !== '' || cells.length > 0 || sawQuote) endRow();
  return rows;
}
