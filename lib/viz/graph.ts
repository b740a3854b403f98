// The computational graph of a tensor as Graphviz DOT (and SVG, rendered in-process by the
// Graphviz WebAssembly build, so no system graphviz is needed). Like micrograd's draw_dot: walk the
// tape from the output through each Node's inputs. Op nodes show the gradFn name and the output
// shape; leaves show their shape, and their parameter name when one is given. Edges follow the data
// (input -> op). Node ids are assigned in a fixed depth-first order, so the same graph always gives
// the same text.
//
// Draw the graph BEFORE backward(): backward without retainGraph releases each node's inputs, and a
// released node is drawn as a dead end marked "(released)".
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import type { Tensor } from '../tensor.js';
import type { Node } from '../tensor.js';
import { fmt } from '../shape.js';

export interface DotOptions {
  /** Names for leaf tensors, e.g. Object.fromEntries(model.namedParameters()) or namedParameters() itself. */
  params?: Record<string, Tensor> | Iterable<readonly [string, Tensor]>;
  /** Graph title (drawn at the top). */
  title?: string;
  /** Layout direction (default 'TB': inputs at the top, the output at the bottom). */
  rankdir?: 'TB' | 'LR' | 'BT' | 'RL';
}

/** Quote a string for DOT (double-quoted ID). */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function paramNames(params: DotOptions['params']): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  if (!params) return names;
  const entries = Symbol.iterator in params
    ? (params as Iterable<readonly [string, Tensor]>)
    : Object.entries(params as Record<string, Tensor>);
  for (const [name, t] of entries) if (!names.has(t)) names.set(t, name);
  return names;
}

/** The graph of `t` as DOT text: op nodes (gradFn name, output shape), leaves (name, shape), data-flow edges. */
export function toDot(t: Tensor, opts: DotOptions = {}): string {
  const names = paramNames(opts.params);
  const ids = new Map<Tensor | Node, string>();
  const lines: string[] = [];
  const edges: string[] = [];

  // A tensor is drawn as its producing Node (non-leaf) or as itself (leaf).
  const key = (x: Tensor): Tensor | Node => x.gradFn ?? x;

  const visit = (x: Tensor): string => {
    const k = key(x);
    const known = ids.get(k);
    if (known) return known;
    const node = x.gradFn;
    if (node) {
      // inputs first: ids then grow from the leaves towards the output
      const from = node.inputs.map((inp) => visit(inp));
      const id = `n${ids.size}`;
      ids.set(k, id);
      const released = node.released;
      const label = `${node.name}\n${fmt(node.outShape)}${released ? '\n(released)' : ''}`;
      lines.push(`  ${id} [label=${dotString(label)}, shape=box, style="rounded,filled", fillcolor="${x === t ? '#f6c28b' : '#e8e8e8'}"];`);
      for (const f of from) edges.push(`  ${f} -> ${id};`);
      return id;
    }
    const id = `n${ids.size}`;
    ids.set(k, id);
    const pname = names.get(x);
    let label: string, fill: string;
    if (pname !== undefined) {
      label = `${pname}\n${fmt(x.shape)}`;
      fill = '#a8d5f2';
    } else if (x.requiresGrad) {
      label = `leaf\n${fmt(x.shape)}`;
      fill = '#a8d5f2';
    } else {
      label = `${x.ndim === 0 ? 'const' : 'input'}\n${fmt(x.shape)}`;
      fill = '#ffffff';
    }
    lines.push(`  ${id} [label=${dotString(label)}, shape=box, style=filled, fillcolor="${fill}"];`);
    return id;
  };
  visit(t);

  const head = [
    'digraph tapegrad {',
    `  rankdir=${opts.rankdir ?? 'TB'};`,
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [color="#555555", arrowsize=0.7];',
  ];
  // graphviz-wasm underestimates text widths: a small title font and some padding keep it uncut
  if (opts.title) head.push(`  labelloc=t;`, `  label=${dotString(opts.title)};`, '  fontname="Helvetica";', '  fontsize=11;', '  pad=0.3;');
  return [...head, ...lines, ...edges, '}', ''].join('\n');
}

type GraphvizInstance = { layout(dot: string, format?: 'svg', engine?: 'dot'): string };
let graphviz: Promise<GraphvizInstance> | null = null;

/** Render DOT text to an SVG string with the Graphviz WebAssembly build (loaded once, lazily). */
export async function renderSvg(dot: string): Promise<string> {
  graphviz ??= import('@hpcc-js/wasm-graphviz').then((m) => m.Graphviz.load() as Promise<GraphvizInstance>);
  const gv = await graphviz;
  return gv.layout(dot, 'svg', 'dot');
}

/**
 * Write the graph of `t` to `file`: SVG for `.svg`, DOT text for `.dot`/`.gv`. Missing directories
 * are created. Resolves to the text written.
 */
export async function drawGraph(t: Tensor, file: string, opts: DotOptions = {}): Promise<string> {
  const ext = extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.dot' && ext !== '.gv') {
    throw new Error(`drawGraph: cannot tell the format of '${file}': use a .svg or .dot file name`);
  }
  const dot = toDot(t, opts);
  const text = ext === '.svg' ? await renderSvg(dot) : dot;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return text;
}
