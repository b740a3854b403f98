// nn: Module bookkeeping, layers and loss modules, against PyTorch fixtures (test/fixtures/torch.json).
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, tensor, manualSeed, gradcheck, linear, tanh, nn } from '../lib/index.js';
import { expectClose, flat, fx, maxDiffSeen, type Nested } from './helpers.js';

afterAll(() => console.log(`nn fixtures: max |tapegrad - torch| = ${maxDiffSeen().toExponential(2)}`));

function mlp(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 5), new nn.ReLU(), new nn.Linear(5, 3));
}

function loadFixture(model: nn.Module, params: Record<string, Nested>): void {
  model.loadStateDict(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tensor(v)])));
}

describe('Module bookkeeping', () => {
  it('namedParameters of a Sequential have PyTorch names and shapes, in order', () => {
    const m = mlp();
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['0.weight', [5, 4]], ['0.bias', [5]], ['2.weight', [3, 5]], ['2.bias', [3]],
    ]);
    expect(m.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(m.children().map((c) => c.constructor.name)).toEqual(['Linear', 'ReLU', 'Linear']);
    expect(m.numParameters()).toBe(5 * 4 + 5 + 3 * 5 + 3);
    expect(m.length).toBe(3);
    expect(m.at(-1)).toBe(m.at(2));
    expect([...m].length).toBe(3);
    expect(() => m.at(3)).toThrow(/index 3 is out of range for 3 modules/);
  });

  it('discovers fields (Modules, tensors that require grad) in declaration order; registration is explicit too', () => {
    class Net extends nn.Module {
      fc1 = new nn.Linear(2, 3);
      act = new nn.Tanh();
      scale = tensor([1, 2, 3], { requiresGrad: true });
      constant = tensor([5]); // no grad: not a parameter
      head = new nn.Sequential(new nn.Linear(3, 1, { bias: false }), new nn.Sigmoid());
      constructor() {
        super();
        this.registerBuffer('runningMean', tensor([0]));
      }
      forward(x: Tensor): Tensor {
        return this.head.forward(this.act.forward(this.fc1.forward(x)).mul(this.scale));
      }
    }
    const net = new Net();
    // as in PyTorch: a module's own tensors first, then its children's
    expect(net.namedParameters().map(([n]) => n)).toEqual(['scale', 'fc1.weight', 'fc1.bias', 'head.0.weight']);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['runningMean']);
    expect(Object.keys(net.stateDict())).toEqual(['scale', 'runningMean', 'fc1.weight', 'fc1.bias', 'head.0.weight']);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['fc1', 'act', 'head']);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'fc1', 'act', 'head', 'head.0', 'head.1']);
    expect(net.forward(tensor([[1, 2]])).shape).toEqual([1, 1]);
    expect(net.call(tensor([[1, 2]])).shape).toEqual([1, 1]);
  });

  it('a module shared twice is listed once', () => {
    const l = new nn.Linear(2, 2);
    const m = new nn.Sequential(l, new nn.ReLU(), l);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias']);
  });

  it('train() and eval() set the flag on every descendant', () => {
    const m = new nn.Sequential(mlp(), new nn.Sigmoid());
    expect(m.modules().every((x) => x.training)).toBe(true);
    expect(m.eval()).toBe(m);
    expect(m.modules().every((x) => !x.training)).toBe(true);
    m.train();
    expect(m.modules().every((x) => x.training)).toBe(true);
    m.train(false);
    expect(m.at(0).training).toBe(false);
  });

  it('zeroGrad sets every grad to null', () => {
    const m = mlp();
    m.forward(tensor([[1, 2, 3, 4]])).sum().backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('toString looks like PyTorch', () => {
    const m = new nn.Sequential(new nn.Linear(4, 5), new nn.ReLU(), new nn.Linear(5, 3, { bias: false }), new nn.Softmax(1));
    expect(m.toString()).toBe(
      'Sequential(\n' +
      '  (0): Linear(inFeatures=4, outFeatures=5, bias=true)\n' +
      '  (1): ReLU()\n' +
      '  (2): Linear(inFeatures=5, outFeatures=3, bias=false)\n' +
      '  (3): Softmax(dim=1)\n' +
      ')');
    const nested = new nn.Sequential(new nn.Sequential(new nn.Tanh()), new nn.CrossEntropyLoss());
    expect(String(nested)).toBe('Sequential(\n  (0): Sequential(\n    (0): Tanh()\n  )\n  (1): CrossEntropyLoss()\n)');
  });
});

describe('stateDict / loadStateDict', () => {
  it('round trip: values copied into the existing memory, detached, insertion-ordered', () => {
    manualSeed(1);
    const a = mlp();
    const b = mlp();
    const sd = a.stateDict();
    expect(Object.keys(sd)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(Object.values(sd).every((t) => !t.requiresGrad && t.gradFn === null)).toBe(true);
    const before = b.parameters().map((p) => p.data);
    expect(b.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    b.parameters().forEach((p, i) => {
      expect(p.data).toBe(before[i]); // same memory: optimizers stay attached
      expect(Array.from(p.data)).toEqual(Array.from(a.parameters()[i].data));
      expect(p.requiresGrad).toBe(true);
    });
    const x = tensor([[0.5, -1, 2, 0.1]]);
    expect(flat(b.forward(x))).toEqual(flat(a.forward(x)));
  });

  it('shape mismatches name the key and both shapes; nothing is copied', () => {
    const m = mlp();
    const old = Array.from(m.at(0).parameters()[1].data);
    const sd = mlp().stateDict();
    sd['0.weight'] = tensor([[1, 2, 3]]);
    expect(() => m.loadStateDict(sd)).toThrow(/size mismatch for '0\.weight'.*shape \[1, 3\].*current model is \[5, 4\]/);
    expect(() => m.loadStateDict(sd, { strict: false })).toThrow(/0\.weight/);
    expect(Array.from(m.at(0).parameters()[1].data)).toEqual(old);
  });

  it('missing and unexpected keys throw when strict, and are reported otherwise', () => {
    const m = mlp();
    const sd = mlp().stateDict();
    delete sd['2.bias'];
    sd['3.weight'] = tensor([1]);
    expect(() => m.loadStateDict(sd)).toThrow(/missing key\(s\) in state dict: '2\.bias'/);
    expect(() => m.loadStateDict(sd)).toThrow(/unexpected key\(s\) in state dict: '3\.weight'/);
    expect(m.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['2.bias'], unexpectedKeys: ['3.weight'] });
    expect(Array.from(m.parameters()[0].data)).toEqual(Array.from(sd['0.weight'].data));
  });
});

describe('Linear', () => {
  it('PyTorch default init: weight and bias in U(-1/√in, 1/√in), reproducible under manualSeed', () => {
    manualSeed(42);
    const a = new nn.Linear(100, 50);
    manualSeed(42);
    const b = new nn.Linear(100, 50);
    const c = new nn.Linear(100, 50);
    expect(Array.from(a.weight.data)).toEqual(Array.from(b.weight.data));
    expect(Array.from(a.bias!.data)).toEqual(Array.from(b.bias!.data));
    expect(Array.from(c.weight.data)).not.toEqual(Array.from(a.weight.data));
    const bound = 1 / Math.sqrt(100);
    for (const t of [a.weight, a.bias!]) {
      let lo = Infinity, hi = -Infinity;
      for (const v of t.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      expect(lo).toBeGreaterThanOrEqual(-bound);
      expect(hi).toBeLessThanOrEqual(bound);
      expect(hi - lo).toBeGreaterThan(1.8 * bound * (t === a.weight ? 1 : 0.8)); // spread over the range
    }
    expect(a.weight.shape).toEqual([50, 100]);
    expect(a.bias!.shape).toEqual([50]);
  });

  it('without bias; bad sizes and inputs give clear errors', () => {
    const l = new nn.Linear(3, 2, { bias: false });
    expect(l.bias).toBeNull();
    expect(l.namedParameters().map(([n]) => n)).toEqual(['weight']);
    expect(l.forward(tensor([[1, 2, 3]])).shape).toEqual([1, 2]);
    expect(l.forward(tensor([[[1, 2, 3]], [[4, 5, 6]]])).shape).toEqual([2, 1, 2]);
    expect(() => l.forward(tensor([[1, 2]]))).toThrow(/linear: input \[1, 2\], weight \[2, 3\]/);
    expect(() => new nn.Linear(-1, 2)).toThrow(/inFeatures/);
  });
});

describe('gradients', () => {
  it('gradcheck through a small Sequential (params as inputs via functionalCall)', () => {
    manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2), new nn.Sigmoid());
    const names = model.namedParameters().map(([n]) => n);
    const x = tensor([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]);
    const f = (xi: Tensor, ...ps: Tensor[]): Tensor =>
      nn.functionalCall(model, Object.fromEntries(names.map((n, i) => [n, ps[i]])), xi);
    const r = gradcheck(f, [x, ...model.parameters()].map((t) => t.detach().requiresGrad_()));
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    expect(r.checked).toBe(6 + 12 + 4 + 8 + 2);
    // functionalCall restored the parameters
    expect(model.namedParameters().every(([, p]) => p.dtype === 'float32')).toBe(true);
  });

  it('module gradients equal those of the same functional computation', () => {
    manualSeed(4);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));
    const x = tensor([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]);
    model.forward(x).pow(2).sum().backward();
    const [w1, b1, w2, b2] = model.parameters().map((p) => p.detach().clone().requiresGrad_());
    linear(tanh(linear(x, w1, b1)), w2, b2).pow(2).sum().backward();
    model.parameters().forEach((p, i) => expectClose(p.grad!, [w1, b1, w2, b2][i].grad!, 1e-6, 1e-7));
  });
});

describe('PyTorch fixtures', () => {
  it('Linear-ReLU-Linear + CrossEntropyLoss: logits, loss and every gradient', () => {
    const F = fx.mlp;
    const model = mlp();
    loadFixture(model, F.params);
    const x = tensor(F.x, { requiresGrad: true });
    const logits = model.forward(x);
    expectClose(logits, F.logits);
    const loss = new nn.CrossEntropyLoss().forward(logits, F.labels);
    expectClose(loss, F.loss);
    loss.backward();
    for (const [n, p] of model.namedParameters()) expectClose(p.grad!, F.grads[n]);
    expectClose(x.grad!, F.grads.x);
  });

  it('Linear-Tanh-Linear-Sigmoid + BCELoss: output, loss and every gradient', () => {
    const F = fx.mlpTanhSigmoid;
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 1), new nn.Sigmoid());
    loadFixture(model, F.params);
    const x = tensor(F.x, { requiresGrad: true });
    const y = model.forward(x);
    expectClose(y, F.output);
    const loss = new nn.BCELoss().forward(y, tensor(F.target));
    expectClose(loss, F.loss);
    loss.backward();
    for (const [n, p] of model.namedParameters()) expectClose(p.grad!, F.grads[n]);
    expectClose(x.grad!, F.grads.x);
  });

  it('loss and activation modules', () => {
    const L = fx.losses;
    const check = (loss: nn.Module, input: Nested, target: Tensor | number[], ref: { loss: number; grad: Nested }, pre?: nn.Module) => {
      const x = tensor(input, { requiresGrad: true });
      const l = loss.forward(pre ? pre.forward(x) : x, target) as Tensor;
      expectClose(l, ref.loss);
      l.backward();
      expectClose(x.grad!, ref.grad);
    };
    check(new nn.CrossEntropyLoss(), L.logits, L.labels, L.crossEntropy);
    check(new nn.CrossEntropyLoss(), L.logits, Int32Array.from(L.labels) as unknown as number[], L.crossEntropy);
    check(new nn.CrossEntropyLoss(), L.logits, tensor(L.labels), L.crossEntropy);
    check(new nn.NLLLoss(), L.logits, L.labels, L.nll, new nn.LogSoftmax(1));
    check(new nn.BCELoss(), L.pred, tensor(L.target), L.bce);
    check(new nn.BCEWithLogitsLoss(), L.logits2, tensor(L.target), L.bceWithLogits);
    check(new nn.MSELoss(), L.a, tensor(L.b), L.mse);
    expectClose(new nn.Softmax(1).forward(tensor(L.logits)), L.softmax);
    expectClose(new nn.LogSoftmax(-1).forward(tensor(L.logits)), L.logSoftmax);
    const sum = new nn.MSELoss({ reduction: 'sum' }).forward(tensor(L.a), tensor(L.b));
    expectClose(sum, L.mse.loss * 6);
  });
});

describe('small modules', () => {
  it('Flatten, Identity and activations', () => {
    const x = tensor([[[1, -2], [3, -4]]]);
    expect(new nn.Flatten().forward(x).shape).toEqual([1, 4]);
    expect(new nn.Identity().forward(x)).toBe(x);
    expect(flat(new nn.ReLU().forward(x))).toEqual([1, 0, 3, 0]);
    expectClose(new nn.Sigmoid().forward(tensor([0])), [0.5]);
    expectClose(new nn.Tanh().forward(tensor([0.5])), [Math.tanh(0.5)]);
    expect(String(new nn.Flatten())).toBe('Flatten(startDim=1, endDim=-1)');
    expect(() => new nn.MSELoss({ reduction: 'avg' as 'sum' })).toThrow(/MSELoss: reduction must be 'none', 'mean' or 'sum', got 'avg'/);
  });
});
