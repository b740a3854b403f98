import { Tensor } from '../tensor.js';
import { ACCUMULATED, type Grads, type Node, type Vjp } from './node.js';
import { setGradEnabled } from './mode.js';
import { closeArena, openArena, outsidePool, pin } from './pool.js';
import { checkBackward, isAnomalyEnabled, runVjp } from './anomaly.js';
import { fmt, sameShape } from '../shape.js';
import { kernels } from '../backend/index.js';
import { add, sumTo } from '../ops/index.js';
import { copy } from '../ops/shape.js';
import { allocArray, onesLike } from '../creation.js';

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

// Who owns which gradient memory, and when it is reused: see the rules at the top of pool.ts.
// During a plain backward (no createGraph, no functional grad) the engine may write into leaves'
// owned .grad buffers.
let ownsLeafGrads = false;

/** Give t a .grad buffer of its own (stale contents: the caller overwrites it all). */
function ownedGradBuffer(t: Tensor): Tensor {
  const old = t._gradBuf;
  t._gradBuf = null;
  t._grad = old && old.dtype === t.dtype && sameShape(old.shape, t.shape) ? old : new Tensor(allocArray(t.dtype, t.size), t.shape.slice());
  t._gradOwned = true;
  return t._grad;
}

/** cur + g as a new graph tensor (createGraph): never g itself, which the caller or another leaf may hold. */
function graphSum(cur: Tensor | null, g: Tensor): Tensor {
  return cur ? add(cur, g) : copy(g);
}

/**
 * For fused VJPs (a gemm that writes dW): the leaf's own gradient memory, and the beta to write
 * it with (0 = overwrite, 1 = accumulate). Null when the engine cannot hand it out (createGraph,
 * functional grad, a non-leaf, another shape); the VJP then returns a tensor as usual.
 */
export function takeGradBuffer(t: Tensor, shape: readonly number[]): { grad: Tensor; beta: 0 | 1 } | null {
  if (!ownsLeafGrads || t.gradFn || !t.requiresGrad || !sameShape(shape, t.shape)) return null;
  if (t._grad) return t._gradOwned ? { grad: t._grad, beta: 1 } : null;
  return { grad: ownedGradBuffer(t), beta: 0 };
}

function callVjp(vjp: Vjp, g: Tensor): Grads {
  return isAnomalyEnabled() ? runVjp(() => vjp(g)) : vjp(g);
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
  const owns = !createGraph && !inputs;
  const prevGrad = setGradEnabled(createGraph);
  const prevOwns = ownsLeafGrads;
  ownsLeafGrads = owns;
  const prevArena = owns ? openArena() : null;
  const order = topoSort(roots, ++pass);
  try {
    const leafGrads = new Map<Tensor, Tensor>();
    const wanted = inputs ? new Set(inputs) : null;
    const wantedNodes = new Map<Node, Tensor>();
    for (const t of inputs ?? []) if (t.gradFn) wantedNodes.set(t.gradFn, t);

    const accumulateLeaf = (t: Tensor, g: Tensor): void => {
      if (wanted) {
        if (!wanted.has(t)) return;
        const old = leafGrads.get(t);
        leafGrads.set(t, old ? add(old, g) : g);
      } else if (owns) {
        // g is scratch memory (or memory someone else holds): copy or add it into the leaf's own buffer
        const cur = t._grad;
        if (cur && t._gradOwned && cur.dtype === g.dtype) {
          kernels(cur.data).binary('add', cur.data, cur.shape, g.data, g.shape, cur.data, cur.shape);
        } else {
          const src = cur ? add(cur, g) : g;
          ownedGradBuffer(t).data.set(src.data);
        }
      } else {
        t.grad = graphSum(t._grad, g);
      }
    };
    const accumulate = (t: Tensor, g: Tensor): void => {
      if (!sameShape(g.shape, t.shape)) g = sumTo(g, t.shape);
      const node = t.gradFn;
      if (node) node._grad = node._grad ? add(node._grad, g) : g;
      else if (t.requiresGrad) accumulateLeaf(t, g);
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
        t.grad = createGraph ? graphSum(t._grad, g) : (t._grad ? add(t._grad, g) : g).clone(); // g may be scratch memory
      }
      const target = wantedNodes.get(node);
      if (target) leafGrads.set(target, g);
      if (!node.vjp) {
        throw new Error(`${op}: the graph through ${node.name} was already freed by an earlier backward(); call the first backward with {retainGraph: true} to backpropagate through it again`);
      }
      const vjp = node.vjp;
      let inGrads: Grads;
      if (node.scratchSafe || !owns) inGrads = callVjp(vjp, g);
      else {
        pin(g.data); // a user VJP may keep g or anything it makes (pool.ts, rule 2)
        inGrads = outsidePool(() => callVjp(vjp, g));
      }
      const ins = node.inputs;
      if (!retainGraph) node.release();
      for (let j = 0; j < ins.length; j++) {
        const gj = inGrads[j];
        if (!gj || !ins[j].requiresGrad) continue;
        if (isAnomalyEnabled()) checkBackward(node.name, g, j, gj === ACCUMULATED ? ins[j]._grad! : gj, node.createdAt);
        if (gj !== ACCUMULATED) accumulate(ins[j], gj);
      }
    }
    return inputs ? inputs.map((t) => leafGrads.get(t) ?? null) : [];
  } finally {
    setGradEnabled(prevGrad);
    ownsLeafGrads = prevOwns;
    if (owns) closeArena(prevArena);
    for (const node of order) node._grad = null; // after an error, nothing stale is left behind
  }
}
