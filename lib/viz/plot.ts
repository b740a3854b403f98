// Small, dependency-free charts: line charts and 2-D decision boundaries as hand-written SVG, and a
// terminal chart through asciichart. Output depends only on the inputs (no dates, no random ids).
import { createRequire } from 'node:module';
import { Tensor, isTensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { fmt } from '../shape.js';

export interface Series {
  name: string;
  values: readonly number[];
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixel size of the whole image (default 640 x 400). */
  width?: number;
  height?: number;
  /** x value of values[0] (default 1: epochs count from 1). */
  xStart?: number;
}

/** Colors for series and classes (Tableau 10). */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number as short text for a tick label. */
function tickText(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  // enough decimals to show the step exactly (0.25 needs 2, 0.5 needs 1)
  let decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  while (decimals < 6 && Math.abs(Number(step.toFixed(decimals)) - step) > 1e-9 * step) decimals++;
  return v.toFixed(decimals);
}

/** "Nice" tick positions covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) { lo = 0; hi = 1; }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d; hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const nlo = Math.floor(lo / step + 1e-9) * step, nhi = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = nlo, i = 0; v <= nhi + step * 1e-6 && i < 100; v = nlo + ++i * step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { lo: nlo, hi: nhi, step, ticks };
}

const r2 = (v: number): string => String(Math.round(v * 100) / 100);

/** An SVG document's opening: the root element, a white background and the title centred at (x, y). */
function svgStart(W: number, H: number, title: string | undefined, x: number, y: number): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (title) out.push(`<text x="${r2(x)}" y="${y}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  return out;
}

/** A line chart of one or more series as an SVG document (axes, ticks, grid, legend). */
export function lineChartSvg(series: readonly Series[], opts: ChartOptions = {}): string {
  const W = opts.width ?? 640, H = opts.height ?? 400, x0 = opts.xStart ?? 1;
  const m = { left: 64, right: 20 + (series.length ? 130 : 0), top: opts.title ? 40 : 20, bottom: opts.xLabel ? 56 : 40 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const finite = series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)));
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const yt = niceTicks(finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1);
  const xt = niceTicks(x0, x0 + Math.max(1, n - 1), Math.min(8, Math.max(1, n - 1)));
  const xs = (x: number): number => m.left + ((x - xt.lo) / (xt.hi - xt.lo)) * pw;
  const ys = (y: number): number => m.top + ph - ((y - yt.lo) / (yt.hi - yt.lo)) * ph;

  const out = svgStart(W, H, opts.title, m.left + pw / 2, 24);
  // grid and ticks
  out.push('<g class="y-axis" stroke="#e0e0e0">');
  for (const v of yt.ticks) out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${r2(ys(v))}" y2="${r2(ys(v))}"/>`);
  out.push('</g><g class="y-ticks" text-anchor="end" fill="#333333">');
  for (const v of yt.ticks) out.push(`<text x="${m.left - 6}" y="${r2(ys(v) + 4)}">${tickText(v, yt.step)}</text>`);
  out.push('</g><g class="x-ticks" text-anchor="middle" fill="#333333">');
  for (const v of xt.ticks) {
    out.push(`<line x1="${r2(xs(v))}" x2="${r2(xs(v))}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#333333"/>`);
    out.push(`<text x="${r2(xs(v))}" y="${m.top + ph + 18}">${tickText(v, xt.step)}</text>`);
  }
  out.push('</g>');
  out.push(`<path d="M${m.left},${m.top}V${m.top + ph}H${m.left + pw}" fill="none" stroke="#333333"/>`);
  if (opts.xLabel) out.push(`<text x="${r2(m.left + pw / 2)}" y="${H - 12}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  if (opts.yLabel) out.push(`<text transform="translate(16,${r2(m.top + ph / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  // series: a polyline broken at non-finite values; a dot when a run has one point
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const runs: string[][] = [[]];
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) runs[runs.length - 1].push(`${r2(xs(x0 + i))},${r2(ys(v))}`);
      else if (runs[runs.length - 1].length) runs.push([]);
    });
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    for (const run of runs) {
      if (run.length > 1) out.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      else if (run.length === 1) {
        const [cx, cy] = run[0].split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
      }
    }
    out.push('</g>');
  });
  // legend
  if (series.length) {
    const lx = m.left + pw + 16;
    out.push('<g class="legend">');
    series.forEach((s, k) => {
      const y = m.top + 8 + k * 20;
      out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${y}" y2="${y}" stroke="${PALETTE[k % PALETTE.length]}" stroke-width="3"/>`);
      out.push(`<text x="${lx + 24}" y="${y + 4}">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>', '');
  return out.join('\n');
}

interface AsciichartModule {
  plot(series: number[] | number[][], cfg?: { height?: number; colors?: string[]; format?: (x: number) => string; min?: number; max?: number }): string;
  blue: string; red: string; green: string; yellow: string; magenta: string; cyan: string; default: string;
}
let asciichartMod: AsciichartModule | null = null;
function asciichart(): AsciichartModule {
  return (asciichartMod ??= createRequire(import.meta.url)('asciichart') as AsciichartModule);
}

export interface AsciiOptions {
  /** Rows of the plot (default 10). */
  height?: number;
  /** ANSI colors, one per series (default none). */
  color?: boolean;
  /** At most this many columns: longer series are averaged down (default 72). */
  maxWidth?: number;
  /** Decimals of the axis labels (default 3). */
  decimals?: number;
}

/** Average a series down to at most w points. */
function downsample(v: readonly number[], w: number): number[] {
  if (v.length <= w) return [...v];
  const out: number[] = [];
  for (let i = 0; i < w; i++) {
    const a = Math.floor((i * v.length) / w), b = Math.floor(((i + 1) * v.length) / w);
    let s = 0;
    for (let j = a; j < b; j++) s += v[j];
    out.push(s / (b - a));
  }
  return out;
}

/** A terminal line chart (asciichart) of one series or several of equal length. */
export function asciiChart(values: readonly number[] | readonly (readonly number[])[], opts: AsciiOptions = {}): string {
  const { height = 10, color = false, maxWidth = 72, decimals = 3 } = opts;
  const many = values.length > 0 && Array.isArray(values[0]);
  const list = (many ? (values as number[][]) : [values as number[]])
    .map((s) => downsample(s.filter((v) => Number.isFinite(v)), maxWidth))
    .filter((s) => s.length > 0);
  if (list.length === 0) return '(no data)';
  const ac = asciichart();
  const label = (x: number): string => x.toFixed(decimals).padStart(decimals + 6);
  const colors = [ac.blue, ac.red, ac.green, ac.yellow, ac.magenta, ac.cyan];
  return ac.plot(list, { height, format: label, ...(color ? { colors } : {}) });
}

export interface BoundaryOptions {
  title?: string;
  /** Grid cells per side (default 80). */
  resolution?: number;
  /** Pixel size of the plot area (default 480). */
  size?: number;
  /** Fraction of the data range added on each side (default 0.1). */
  margin?: number;
}

/** Class indices from a model's output: argmax of [n, C>1] scores, else 0/1 by threshold 0.5 (or the value itself if integral). */
export function toClasses(out: Tensor, n: number): Int32Array {
  const cls = new Int32Array(n);
  if (out.ndim === 2 && out.shape[1] > 1) {
    const c = out.shape[1];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (out.data[i * c + j] > out.data[i * c + best]) best = j;
      cls[i] = best;
    }
    return cls;
  }
  if (out.size !== n) throw new RangeError(`toClasses: expected ${n} predictions, got a tensor of shape ${fmt(out.shape)}`);
  let integral = true;
  for (let i = 0; i < n && integral; i++) integral = Number.isInteger(out.data[i]);
  for (let i = 0; i < n; i++) cls[i] = integral ? out.data[i] : out.data[i] > 0.5 ? 1 : 0;
  return cls;
}

/**
 * The decision regions of a 2-D classifier: a grid of predicted classes as light colored cells, the
 * data points on top (colored by label, outlined in red when the prediction at the point is wrong).
 * `predict` gets a [m, 2] tensor and returns class indices [m], or scores [m, C] (argmax is taken).
 */
export function decisionBoundarySvg(
  predict: (x: Tensor) => Tensor, points: Tensor, labels: Tensor | ArrayLike<number>, opts: BoundaryOptions = {},
): string {
  if (points.ndim !== 2 || points.shape[1] !== 2) throw new RangeError(`decisionBoundarySvg: points must have shape [n, 2], got ${fmt(points.shape)}`);
  const n = points.shape[0];
  const ys = isTensor(labels) ? labels.data : labels;
  if (ys.length !== n) throw new RangeError(`decisionBoundarySvg: ${n} points but ${ys.length} labels`);
  const { resolution: R = 80, size = 480, margin = 0.1 } = opts;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const a = points.data[2 * i], b = points.data[2 * i + 1];
    x0 = Math.min(x0, a); x1 = Math.max(x1, a); y0 = Math.min(y0, b); y1 = Math.max(y1, b);
  }
  if (n === 0) { x0 = y0 = 0; x1 = y1 = 1; }
  const dx = (x1 - x0 || 1) * margin, dy = (y1 - y0 || 1) * margin;
  x0 -= dx; x1 += dx; y0 -= dy; y1 += dy;

  // cell centers, row-major from the top (high y) down
  const grid = new Float32Array(R * R * 2);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < R; c++) {
      const k = 2 * (r * R + c);
      grid[k] = x0 + ((c + 0.5) / R) * (x1 - x0);
      grid[k + 1] = y1 - ((r + 0.5) / R) * (y1 - y0);
    }
  }
  const cells = toClasses(noGrad(() => predict(new Tensor(grid, [R * R, 2]))), R * R);
  const atPoints = toClasses(noGrad(() => predict(new Tensor(Float32Array.from(points.data), [n, 2]))), n);

  const m = { left: 48, top: opts.title ? 36 : 12, right: 12, bottom: 36 };
  const W = m.left + size + m.right, H = m.top + size + m.bottom, cw = size / R;
  const px = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * size;
  const py = (y: number): number => m.top + ((y1 - y) / (y1 - y0)) * size;
  const out = svgStart(W, H, opts.title, m.left + size / 2, 22);
  // cells: merge horizontal runs of one class into one rect
  out.push('<g class="regions" fill-opacity="0.35" shape-rendering="crispEdges">');
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < R;) {
      const cls = cells[r * R + c];
      let e = c + 1;
      while (e < R && cells[r * R + e] === cls) e++;
      out.push(`<rect x="${r2(m.left + c * cw)}" y="${r2(m.top + r * cw)}" width="${r2((e - c) * cw + 0.01)}" height="${r2(cw + 0.01)}" fill="${PALETTE[((cls % 10) + 10) % 10]}"/>`);
      c = e;
    }
  }
  out.push('</g>');
  out.push(`<rect x="${m.left}" y="${m.top}" width="${size}" height="${size}" fill="none" stroke="#333333"/>`);
  // axis ticks
  const xt = niceTicks(x0, x1, 5), yt = niceTicks(y0, y1, 5);
  out.push('<g class="ticks" fill="#333333">');
  for (const v of xt.ticks) if (v >= x0 && v <= x1) out.push(`<text x="${r2(px(v))}" y="${m.top + size + 16}" text-anchor="middle">${tickText(v, xt.step)}</text>`);
  for (const v of yt.ticks) if (v >= y0 && v <= y1) out.push(`<text x="${m.left - 6}" y="${r2(py(v) + 4)}" text-anchor="end">${tickText(v, yt.step)}</text>`);
  out.push('</g>');
  // points
  out.push('<g class="points" stroke-width="1">');
  for (let i = 0; i < n; i++) {
    const cls = Math.round(ys[i]);
    const wrong = atPoints[i] !== cls;
    out.push(`<circle cx="${r2(px(points.data[2 * i]))}" cy="${r2(py(points.data[2 * i + 1]))}" r="${n > 200 ? 3 : 5}" fill="${PALETTE[((cls % 10) + 10) % 10]}" stroke="${wrong ? '#d62728' : '#222222'}"${wrong ? ' stroke-width="2"' : ''}/>`);
  }
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}
