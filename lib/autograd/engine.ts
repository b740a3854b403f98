import { Tensor, floatData, nodeInternals as N, tensorInternals as T, type Node, type TapeRecord } from '../tensor.js';
import { ACCUMULATED, type GradDestination, type Grads, type VjpContext } from './define.js';
import { setGradEnabled } from './mode.js';
import { closeArena, openArena, outsidePool, pin, recycleOutput } from './pool.js';
import { checkBackward, isAnomalyEnabled, runVjp } from './anomaly.js';
import { fmt, sameShape } from '../shape.js';
import { kernels } from '../backend/index.js';
import { allocArray } from '../creation.js';

/**
 * The ops the engine itself applies to gradients, registered by the ops layer (lib/ops/methods.ts)
 * so that the engine imports nothing above it. With createGraph they are recorded like any op.
 */
export interface GradientOps {
  /** a + b, same shapes. */
  add(a: Tensor, b: Tensor): Tensor;
  /** Sum g down to shape, a shape that broadcasts to g's (the VJP of broadcasting). */
  sumTo(g: Tensor, shape: readonly number[]): Tensor;
  /** A copy with its own memory that stays on the tape. */
  copy(g: Tensor): Tensor;
}

let ops: GradientOps | null = null;

export function registerGradientOps(o: GradientOps): void {
  ops = o;
}

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

let pass = 0;

// topoSort's depth-first stack (node, next input to visit), kept between passes: it runs no other code.
const stackNodes: (Node | null)[] = [];
const stackNext: number[] = [];

/** Nodes reachable from the roots, in topological order (inputs before the nodes that use them). */
function topoSort(roots: readonly Tensor[], mark: number): Node[] {
  const order: Node[] = [];
  for (const r of roots) {
    const top = r.gradFn;
    if (!top || N.mark(top) === mark) continue;
    N.setMark(top, mark);
    stackNodes[0] = top; stackNext[0] = 0;
    for (let d = 0; d >= 0;) {
      const node = stackNodes[d]!;
      const i = stackNext[d];
      const ins = N.inputs(node);
      if (i < ins.length) {
        stackNext[d] = i + 1;
        const child = ins[i].gradFn;
        if (child && N.mark(child) !== mark) { N.setMark(child, mark); d++; stackNodes[d] = child; stackNext[d] = 0; }
      } else {
        stackNodes[d--] = null;
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
    const one = new Tensor(allocArray(root.dtype, 1), root.shape.slice());
    one.data[0] = 1;
    return one;
  }
  if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`${op}: gradient of shape ${fmt(seed.shape)} does not match the output of shape ${fmt(root.shape)}`);
  }
  if (seed.dtype === 'int32') throw new TypeError(`${op}: the gradient must be a floating point tensor, got int32 (convert it with .float())`);
  return seed;
}

// Who owns which gradient memory, and when it is reused: see the rules at the top of pool.ts.
// During a plain backward (no createGraph, no functional grad) the engine may write into leaves'
// owned .grad buffers.

/** Give t a .grad buffer of its own (stale contents: the caller overwrites it all). */
function ownedGradBuffer(t: Tensor): Tensor {
  const old = T.takeKept(t);
  const g = old && old.dtype === t.dtype && sameShape(old.shape, t.shape) ? old : new Tensor(allocArray(t.dtype, t.size), t.shape.slice());
  T.setOwned(t, g);
  return g;
}

/** cur + g as a new graph tensor (createGraph): never g itself, which the caller or another leaf may hold. */
function graphSum(o: GradientOps, cur: Tensor | null, g: Tensor): Tensor {
  return cur ? o.add(cur, g) : o.copy(g);
}

/** The context of each VJP call of one pass (one object per pass, refilled per node). */
class Context implements VjpContext {
  out!: Tensor;
  saved: unknown;
  needsInputGrad!: readonly boolean[];
  private inputs!: readonly Tensor[];
  private library = false;
  constructor(readonly createGraph: boolean, private readonly ownsLeafGrads: boolean) {}

  set(rec: TapeRecord, node: Node): this {
    this.out = rec.out;
    this.saved = rec.saved;
    this.needsInputGrad = rec.needsInputGrad;
    this.inputs = N.inputs(node);
    this.library = node.scratchSafe;
    return this;
  }

  /** A leaf's own gradient memory, when the engine owns it (pool.ts, rule 3); only library VJPs keep nothing. */
  gradInto(j: number): GradDestination | null {
    const t = this.inputs[j];
    if (!this.ownsLeafGrads || !this.library || !t || t.gradFn || !t.requiresGrad) return null;
    const cur = T.grad(t);
    if (cur) return T.owned(t) ? { data: floatData(cur), beta: 1 } : null;
    return { data: floatData(ownedGradBuffer(t)), beta: 0 };
  }
}

function callVjp(rec: TapeRecord, g: Tensor, ctx: Context): Grads {
  const vjp = rec.vjp as (g: Tensor, ctx: VjpContext, ...args: unknown[]) => Grads;
  return isAnomalyEnabled() ? runVjp(() => vjp(g, ctx, ...rec.args)) : vjp(g, ctx, ...rec.args);
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
  const o = ops;
  if (!o) throw new Error(`${op}: the ops layer is not loaded (import tapegrad, not its internal files)`);
  const ctx = new Context(createGraph, owns);
  const prevGrad = setGradEnabled(createGraph);
  const prevArena = owns ? openArena() : null;
  const order = topoSort(roots, ++pass);
  try {
    const leafGrads = inputs ? new Map<Tensor, Tensor>() : null; // functional grad only
    const wanted = inputs ? new Set(inputs) : null;
    const wantedNodes = inputs ? new Map<Node, Tensor>() : null;
    if (inputs) for (const t of inputs) if (t.gradFn) wantedNodes!.set(t.gradFn, t);

    const accumulateLeaf = (t: Tensor, g: Tensor): void => {
      if (wanted) {
        if (!wanted.has(t)) return;
        const old = leafGrads!.get(t);
        leafGrads!.set(t, old ? o.add(old, g) : g);
      } else if (owns) {
        // g is scratch memory (or memory someone else holds): copy or add it into the leaf's own buffer
        const cur = T.grad(t);
        if (cur && T.owned(t) && cur.dtype === g.dtype) {
          const cd = floatData(cur);
          kernels(cd).binary('add', cd, cur.shape, floatData(g), g.shape, cd, cur.shape);
        } else {
          const src = cur ? o.add(cur, g) : g;
          ownedGradBuffer(t).data.set(src.data);
        }
      } else {
        t.grad = graphSum(o, T.grad(t), g);
      }
    };
    const accumulate = (t: Tensor, g: Tensor): void => {
      if (!sameShape(g.shape, t.shape)) g = o.sumTo(g, t.shape);
      const node = t.gradFn;
      if (node) {
        const cur = N.grad(node);
        N.setGrad(node, cur ? o.add(cur, g) : g);
      }
      else if (t.requiresGrad) accumulateLeaf(t, g);
    };

    if (roots.length === 1) accumulate(roots[0], seedFor(roots[0], seeds[0], op));
    else {
      const rootGrads = roots.map((r, i) => seedFor(r, seeds[i], op));
      for (let i = 0; i < roots.length; i++) accumulate(roots[i], rootGrads[i]);
    }

    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = N.grad(node);
      if (!g) continue;
      N.setGrad(node, null);
      if (node.retained && !wanted) {
        const t = node.retained, cur = T.grad(t);
        t.grad = createGraph ? graphSum(o, cur, g) : (cur ? o.add(cur, g) : g).clone(); // g may be scratch memory
      }
      const target = wantedNodes?.get(node);
      if (target) leafGrads!.set(target, g);
      const rec = N.record(node);
      if (!rec) {
        throw new Error(`${op}: the graph through ${node.name} was already freed by an earlier backward(); call the first backward with {retainGraph: true} to backpropagate through it again`);
      }
      const ins = N.inputs(node);
      ctx.set(rec, node);
      let inGrads: Grads;
      if (node.scratchSafe || !owns) inGrads = callVjp(rec, g, ctx);
      else {
        pin(floatData(g)); // a user VJP may keep g or anything it makes (pool.ts, rule 2)
        inGrads = outsidePool(() => callVjp(rec, g, ctx));
      }
      if (!retainGraph) {
        node.release();
        if (owns) recycleOutput(node, rec.out);
      }
      const anomaly = isAnomalyEnabled();
      for (let j = 0; j < ins.length; j++) {
        const gj = inGrads[j];
        if (!gj || !ins[j].requiresGrad) continue;
        if (anomaly) checkBackward(node.name, g, j, gj === ACCUMULATED ? T.grad(ins[j])! : gj, node.createdAt);
        if (gj !== ACCUMULATED) accumulate(ins[j], gj);
      }
    }
    return inputs ? inputs.map((t) => leafGrads!.get(t) ?? null) : [];
  } finally {
    setGradEnabled(prevGrad);
    if (owns) closeArena(prevArena);
    for (const node of order) N.setGrad(node, null); // after an error, nothing stale is left behind
  }
}
