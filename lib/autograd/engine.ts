import type { Tensor } from '../tensor.js';
import type { Node } from './node.js';
import { setGradEnabled } from './mode.js';
import { fmt, sameShape } from '../shape.js';
import { add, sumTo } from '../ops/index.js';
import { onesLike } from '../creation.js';

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

let pass = 0;

/** Nodes reachable from the roots, in topological order (inputs before the nodes that use them). */
function topoSort(roots: readonly Tensor[], mark: number): Node[] {
  const order: Node[] = [];
  const nodes: Node[] = [];
  const next: number[] = [];
  for (const r of roots) {
    const top = r.gradFn;
    if (!top || top._mark === mark) continue;
    top._mark = mark;
    nodes.push(top); next.push(0);
    while (nodes.length) {
      const d = nodes.length - 1;
      const node = nodes[d];
      const i = next[d];
      if (i < node.inputs.length) {
        next[d] = i + 1;
        const child = node.inputs[i].gradFn;
        if (child && child._mark !== mark) { child._mark = mark; nodes.push(child); next.push(0); }
      } else {
        nodes.pop(); next.pop();
        order.push(node);
      }
    }
  }
  return order;
}

function seedFor(root: Tensor, seed: Tensor | null, op: string): Tensor {
  if (!root.requiresGrad) {
    throw new Error(`${op}: the tensor of shape ${fmt(root.shape)} does not require grad and has no gradFn`);
  }
  if (seed === null) {
    if (root.size !== 1) {
      throw new Error(`${op}: grad can be implicitly created only for scalar outputs; got shape ${fmt(root.shape)}, pass a gradient of that shape (y.backward(v))`);
    }
    return onesLike(root);
  }
  if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`${op}: gradient of shape ${fmt(seed.shape)} does not match the output of shape ${fmt(root.shape)}`);
  }
  return seed;
}

/**
 * The reverse pass: seed the roots, walk the tape in reverse topological order calling each node's
 * VJP, reduce gradients of broadcast inputs to their shapes, and accumulate. With `inputs`, returns
 * the gradients for those tensors instead of writing leaves' .grad (functional grad).
 */
export function backward(
  roots: readonly Tensor[], seeds: readonly (Tensor | null)[], opts: BackwardOptions = {},
  inputs?: readonly Tensor[],
): (Tensor | null)[] {
  const op = inputs ? 'grad' : 'backward';
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const prev = setGradEnabled(createGraph);
  const order = topoSort(roots, ++pass);
  try {
    const leafGrads = new Map<Tensor, Tensor>();
    const wanted = inputs ? new Set(inputs) : null;
    const wantedNodes = new Map<Node, Tensor>();
    for (const t of inputs ?? []) if (t.gradFn) wantedNodes.set(t.gradFn, t);
    const handedOut = new Set<Tensor>(seeds.filter((s): s is Tensor => s !== null));

    const accumulateLeaf = (t: Tensor, g: Tensor): void => {
      if (wanted) {
        if (!wanted.has(t)) return;
        const old = leafGrads.get(t);
        leafGrads.set(t, old ? add(old, g) : g);
        return;
      }
      // one gradient tensor can reach several leaves (x + y) or be the user's seed: never alias
      // two .grads, except under createGraph where a copy would cut the graph
      if (t.grad) t.grad = add(t.grad, g);
      else t.grad = handedOut.has(g) && !createGraph ? g.clone() : g;
      handedOut.add(g);
    };
    const accumulate = (t: Tensor, g: Tensor): void => {
      if (!sameShape(g.shape, t.shape)) g = sumTo(g, t.shape);
      const node = t.gradFn;
      if (node) {
        node._grad = node._grad ? add(node._grad, g) : g;
      } else if (t.requiresGrad) {
        accumulateLeaf(t, g);
      }
    };

    const rootGrads = roots.map((r, i) => seedFor(r, seeds[i], op));
    for (let i = 0; i < roots.length; i++) accumulate(roots[i], rootGrads[i]);
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = node._grad;
      if (!g) continue;
      node._grad = null;
      if (node.retained && !wanted) {
        const t = node.retained;
        t.grad = t.grad ? add(t.grad, g) : createGraph ? g : g.clone();
      }
      const target = wantedNodes.get(node);
      if (target) leafGrads.set(target, g);
      if (!node.vjp) {
        throw new Error(`${op}: the graph through ${node.name} was already freed by an earlier backward(); call the first backward with {retainGraph: true} to backpropagate through it again`);
      }
      const inGrads = node.vjp(g);
      const ins = node.inputs;
      if (!retainGraph) node.release();
      for (let j = 0; j < ins.length; j++) {
        const gj = inGrads[j];
        if (gj && ins[j].requiresGrad) accumulate(ins[j], gj);
      }
    }
    return inputs ? inputs.map((t) => leafGrads.get(t) ?? null) : [];
  } finally {
    setGradEnabled(prev);
    for (const node of order) node._grad = null; // after an error, nothing stale is left behind
  }
}
