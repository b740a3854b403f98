// nn.functional is PyTorch's F: each function gives what its layer gives.
import { expect, it } from 'vitest';
import { nn, tensor, manualSeed } from '../lib/index.js';

const F = nn.functional;
const x = tensor([[-2, -0.5, 0, 0.5, 3], [1, -1, 2, -3, 0.25]]);

it('activations match their layers', () => {
  const pairs: [string, (t: typeof x) => typeof x, { forward(t: typeof x): typeof x }][] = [
    ['gelu', (t) => F.gelu(t, { approximate: 'tanh' }), new nn.GELU({ approximate: 'tanh' })],
    ['leakyRelu', (t) => F.leakyRelu(t, 0.2), new nn.LeakyReLU(0.2)],
    ['elu', (t) => F.elu(t, 0.7), new nn.ELU(0.7)],
    ['silu', F.silu, new nn.SiLU()],
    ['mish', F.mish, new nn.Mish()],
    ['softplus', (t) => F.softplus(t, { beta: 2, threshold: 3 }), new nn.Softplus({ beta: 2, threshold: 3 })],
    ['relu', F.relu, new nn.ReLU()],
  ];
  for (const [name, f, layer] of pairs) expect(f(x).toArray(), name).toEqual(layer.forward(x).toArray());
  expect((F.leakyRelu(x, 0.2).toArray() as number[][])[0][0]).toBeCloseTo(-0.4, 6);
});

it('losses and dropout match their layers', () => {
  const y = tensor([4, 1]);
  expect(F.crossEntropy(x, y).item()).toBe(new nn.CrossEntropyLoss().forward(x, y).item());
  const t = tensor([[0, 1, 0, 1, 0], [1, 1, 0, 0, 1]]);
  expect(F.smoothL1Loss(x, t, { beta: 0.5 }).item()).toBe(new nn.SmoothL1Loss({ beta: 0.5 }).forward(x, t).item());
  manualSeed(3);
  const a = F.dropout(x, 0.4, true).toArray();
  manualSeed(3);
  expect(new nn.Dropout(0.4).forward(x).toArray()).toEqual(a);
});
