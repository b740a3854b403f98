import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, Tensor, nn, manualSeed, crossEntropy } from '../lib/index.js';
import { toDot, drawGraph, lineChartSvg, asciiChart, decisionBoundarySvg, niceTicks, toClasses } from '../lib/viz/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tapegrad-viz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** relu(x @ w) + (x @ w), summed: MatMul feeds two ops. */
function expr(): { x: Tensor; w: Tensor; y: Tensor } {
  const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
  const w = tensor([[1, 0], [0, 1], [1, 1]], { requiresGrad: true });
  const h = x.matmul(w);
  return { x, w, y: h.relu().add(h).sum() };
}

/** label of each node id, and edges as "label -> label". */
function parse(dot: string): { labels: Map<string, string>; edges: string[] } {
  const labels = new Map<string, string>();
  for (const m of dot.matchAll(/^\s+(n\d+) \[label="([^"]*)"/gm)) labels.set(m[1], m[2].replace(/\\n/g, ' '));
  const edges = [...dot.matchAll(/^\s+(n\d+) -> (n\d+);/gm)].map((m) => `${labels.get(m[1])} -> ${labels.get(m[2])}`);
  return { labels, edges };
}

describe('toDot', () => {
  it('has op nodes with gradFn names and output shapes, named leaves, and data-flow edges', () => {
    const { x, w, y } = expr();
    const dot = toDot(y, { params: { x, w } });
    expect(dot.startsWith('digraph tapegrad {')).toBe(true);
    const { labels, edges } = parse(dot);
    expect([...labels.values()].sort()).toEqual([
      'AddBackward [2, 2]', 'MatMulBackward [2, 2]', 'ReluBackward [2, 2]', 'SumBackward []', 'w [3, 2]', 'x [2, 3]',
    ]);
    expect(edges.sort()).toEqual([
      'AddBackward [2, 2] -> SumBackward []',
      'MatMulBackward [2, 2] -> AddBackward [2, 2]',
      'MatMulBackward [2, 2] -> ReluBackward [2, 2]',
      'ReluBackward [2, 2] -> AddBackward [2, 2]',
      'w [3, 2] -> MatMulBackward [2, 2]',
      'x [2, 3] -> MatMulBackward [2, 2]',
    ]);
  });

  it('is deterministic and takes namedParameters() pairs; unnamed leaves show their shape', () => {
    manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    const x = tensor([[1, 2, 3]]);
    const loss = () => crossEntropy(model.forward(x), [1]);
    const a = toDot(loss(), { params: model.namedParameters() });
    const b = toDot(loss(), { params: model.namedParameters() });
    expect(a).toBe(b);
    const { labels, edges } = parse(a);
    const names = [...labels.values()];
    for (const s of ['0.weight [4, 3]', '0.bias [4]', '2.weight [2, 4]', '2.bias [2]', 'input [1, 3]', 'CrossEntropyBackward []']) {
      expect(names).toContain(s);
    }
    // Sequential may fuse Linear+ReLU into one op (LinearReluBackward)
    expect(edges.some((e) => /^input \[1, 3\] -> Linear\w*Backward \[1, 4\]$/.test(e)), edges.join('; ')).toBe(true);
    expect(edges).toContain('LinearBackward [1, 2] -> CrossEntropyBackward []');
    expect(edges.filter((e) => e.startsWith('0.weight [4, 3] -> Linear'))).toHaveLength(1);
  });

  it('marks nodes released by backward(), and draws a leaf alone', () => {
    const { y } = expr();
    y.backward();
    expect(toDot(y)).toContain('(released)');
    const leaf = tensor([1, 2], { requiresGrad: true });
    expect(parse(toDot(leaf)).labels.get('n0')).toBe('leaf [2]');
  });

  it('escapes quotes in names', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(toDot(x.mul(2), { params: { 'a"b': x } })).toContain('label="a\\"b\\n[1]"');
  });
});

describe('drawGraph', () => {
  it('renders SVG in-process and writes DOT by extension', async () => {
    const { x, w, y } = expr();
    const svgFile = join(dir, 'sub', 'g.svg');
    const svg = await drawGraph(y, svgFile, { params: { x, w } });
    expect(svg).toContain('<svg');
    expect(svg).toContain('MatMulBackward');
    expect(readFileSync(svgFile, 'utf8')).toBe(svg);
    const dotFile = join(dir, 'g.dot');
    await drawGraph(y, dotFile);
    expect(readFileSync(dotFile, 'utf8')).toContain('digraph tapegrad');
    await expect(drawGraph(y, join(dir, 'g.png'))).rejects.toThrow(/\.svg or \.dot/);
    expect(existsSync(join(dir, 'g.png'))).toBe(false);
  });
});

describe('charts', () => {
  it('lineChartSvg draws every series with a legend, title and labels (escaped)', () => {
    const svg = lineChartSvg(
      [{ name: 'train <loss>', values: [2, 1, 0.5, 0.25] }, { name: 'test', values: [2.2, 1.3, NaN, 0.4] }],
      { title: 'curves & more', xLabel: 'epoch', yLabel: 'loss' },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('train &lt;loss&gt;');
    expect(svg).toContain('curves &amp; more');
    expect(svg).toContain('>epoch<');
    expect(svg.match(/class="series"/g)).toHaveLength(2);
    // the NaN splits the second series: one 2-point run and one lone point
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toMatch(/<circle /);
    expect(lineChartSvg([{ name: 'a', values: [1, 2] }])).toBe(lineChartSvg([{ name: 'a', values: [1, 2] }]));
    expect(lineChartSvg([{ name: 'flat', values: [3, 3, 3] }])).toContain('data-name="flat"');
    expect(lineChartSvg([])).toContain('<svg');
  });

  it('niceTicks covers the range with round steps', () => {
    const t = niceTicks(0.13, 0.97);
    expect(t.lo).toBeLessThanOrEqual(0.13);
    expect(t.hi).toBeGreaterThanOrEqual(0.97);
    expect(t.ticks[0]).toBeCloseTo(t.lo);
    expect([0.1, 0.2, 0.25, 0.5]).toContain(t.step);
    expect(niceTicks(5, 5).ticks.length).toBeGreaterThan(1);
  });

  it('asciiChart plots one or several series', () => {
    const one = asciiChart([1, 2, 3, 2, 1], { height: 4 });
    expect(one.split('\n')).toHaveLength(5);
    expect(one).toMatch(/[┤┼]/);
    expect(asciiChart([[1, 2], [2, 1]], { height: 3 }).split('\n')).toHaveLength(4);
    expect(asciiChart([])).toBe('(no data)');
    // long series are averaged down to maxWidth columns
    const long = asciiChart(Array.from({ length: 1000 }, (_, i) => i), { height: 2, maxWidth: 50 });
    expect(Math.max(...long.split('\n').map((l) => l.length))).toBeLessThan(70);
  });

  it('decisionBoundarySvg colors the plane by predicted class and draws the points', () => {
    const pts = tensor([[-1, -1], [-1, 1], [1, -1], [1, 1], [0.5, 0.5]]);
    const labels = [0, 0, 1, 1, 0]; // the last point is on the wrong side
    const predict = (x: Tensor): Tensor => x.indexSelect(1, [0]).reshape([x.shape[0]]).gt(0);
    const svg = decisionBoundarySvg(predict, pts, labels, { title: 'x > 0', resolution: 20 });
    expect(svg).toContain('<svg');
    expect(svg).toContain('x &gt; 0');
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg.match(/stroke="#d62728"/g)).toHaveLength(1);
    // each of the 20 rows is two runs (class 0 left, class 1 right)
    expect(svg.match(/<rect x=/g)!.length).toBe(40 + 1);
    // scores [m, C] are argmaxed
    const scores = (x: Tensor): Tensor => tensor(Array.from({ length: x.shape[0] }, (_, i) => [x.data[2 * i], -x.data[2 * i]]));
    expect(decisionBoundarySvg(scores, pts, labels, { resolution: 10 })).toContain('<svg');
    expect(() => decisionBoundarySvg(predict, tensor([[1, 2, 3]]), [0])).toThrow(/\[n, 2\]/);
  });

  it('toClasses handles scores, probabilities and labels', () => {
    expect(Array.from(toClasses(tensor([[0.1, 0.9], [2, 1]]), 2))).toEqual([1, 0]);
    expect(Array.from(toClasses(tensor([0.2, 0.7]), 2))).toEqual([0, 1]);
    expect(Array.from(toClasses(tensor([2, 0, 1]), 3))).toEqual([2, 0, 1]);
  });
});
