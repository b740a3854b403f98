import { Tensor, isTensor, type DType } from '../tensor.js';
import { parseNested, randn } from '../creation.js';
import { add, indexSelect, mul, reshape } from '../ops/index.js';
import { constant, toIndex } from '../ops/util.js';
import { checkNumber, withDefaults } from '../options.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  /** This row starts at zero and gets no gradient (negative: counted from the end). */
  paddingIdx?: number | null;
  dtype?: DType;
}

/** Indices as a Tensor of any shape, nested arrays or a typed array (1-D). */
export type Indices = Tensor | ArrayLike<number> | number[][] | number;

/**
 * A lookup table: forward(indices) gives weight's rows at the indices, shaped [...indices, embeddingDim].
 * weight [numEmbeddings, embeddingDim] starts as N(0, 1) draws (seeded by manualSeed), as in PyTorch.
 */
export class Embedding extends Module<[Indices], Tensor> {
  declare weight: Tensor;
  readonly paddingIdx: number | null;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts?: EmbeddingOptions) {
    super();
    const o = withDefaults('Embedding', opts, { paddingIdx: null as number | null, dtype: undefined as DType | undefined });
    checkNumber('Embedding', 'numEmbeddings', numEmbeddings, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
    checkNumber('Embedding', 'embeddingDim', embeddingDim, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
    let pad = o.paddingIdx;
    if (pad !== null) {
      checkNumber('Embedding', 'paddingIdx', pad, (p) => Number.isInteger(p) && p >= -numEmbeddings && p < numEmbeddings, `an integer in [-${numEmbeddings}, ${numEmbeddings})`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    const w = randn([numEmbeddings, embeddingDim], { dtype: o.dtype, requiresGrad: true });
    if (pad !== null) w.data.fill(0, pad * embeddingDim, (pad + 1) * embeddingDim);
    this.registerParameter('weight', w);
  }

  override forward(indices: Indices): Tensor {
    const [values, shape] = readIndices(indices);
    const idx = toIndex('Embedding', values, this.numEmbeddings);
    const w = this.weight, dim = this.embeddingDim, pad = this.paddingIdx;
    let rows = indexSelect(w, 0, idx);
    if (pad !== null && idx.includes(pad) && rows.requiresGrad) {
      // the padding rows keep their values but pass no gradient: rows·keep + (their values, constant)
      const keep = new Float64Array(idx.length);
      const fixed = new Float64Array(rows.size);
      for (let i = 0; i < idx.length; i++) {
        if (idx[i] !== pad) keep[i] = 1;
        else fixed.set(w.data.subarray(pad * dim, (pad + 1) * dim), i * dim);
      }
      rows = add(mul(rows, constant(w, keep, [idx.length, 1])), constant(w, fixed, rows.shape));
    }
    return reshape(rows, [...shape, dim]);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}

function readIndices(indices: Indices): [ArrayLike<number>, number[]] {
  if (isTensor(indices)) return [indices.data, indices.shape];
  if (ArrayBuffer.isView(indices) && !(indices instanceof DataView)) return [indices as unknown as ArrayLike<number>, [(indices as unknown as ArrayLike<number>).length]];
  const { values, shape } = parseNested('Embedding', indices);
  return [values, shape];
}
