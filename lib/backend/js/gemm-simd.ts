// The inner loops of the JS backend's blocked gemm as a WebAssembly SIMD function, assembled here
// from its opcodes (no build step, no binary file). It multiplies packed float64 panels with f64x2
// lanes: every product and sum is the same float64 operation as in plain JS, only the summation
// order is the blocked one. Where WebAssembly SIMD is missing, simdGemm is null and gemm.ts keeps
// its plain-JS micro-kernel.
//
// Memory layout (bytes), float64 throughout:
//   [0, A_BYTES)                       packed A block: MC×KC, MR-row micro-panels (gemm.ts packA)
//   [A_BYTES, A_BYTES + B_BYTES)       packed B block: KC×NC, NR-column micro-panels (gemm.ts packB)
//   [C_OFF, C_OFF + rows·NC·8)         C accumulator: row-major, row stride NC, grown with m
//
// The function (as WAT):
//   (func (export "block") (param $mc i32) (param $nc i32) (param $kc i32) (param $c0 i32)
//     ;; for jr in 0..nc step 4, ir in 0..mc step 4: the 4×4 tile of C at $c0 + (ir·NC + jr)·8
//     ;; += Ap[ir-panel] · Bp[jr-panel] over kc, kept as 8 f64x2 accumulators (row r: cols 0-1, 2-3).
//     ;; mc and nc are multiples of 4 (the panels are zero-padded).

export const MR = 4;
export const NR = 4;
export const KC = 256;
export const MC = 64;
export const NC = 256;
const A_BYTES = MC * KC * 8;
const B_BYTES = KC * NC * 8;
export const C_OFF = A_BYTES + B_BYTES;
const PAGE = 65536;

// --- a minimal WebAssembly encoder ------------------------------------------------------------
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const str = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));

const I32 = 0x7f, V128 = 0x7b;
const get = (l: number): number[] => [0x20, ...uleb(l)];
const set = (l: number): number[] => [0x21, ...uleb(l)];
const i32 = (v: number): number[] => [0x41, ...sleb(v)];
const add = [0x6a], mul = [0x6c], ltU = [0x49];
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
const v128Load = (offset: number): number[] => simd(0x00, ...memarg(4, offset));
const v128Store = (offset: number): number[] => simd(0x0b, ...memarg(4, offset));
const load64Splat = (offset: number): number[] => simd(0x0a, ...memarg(3, offset));
const f64x2Add = simd(0xf0), f64x2Mul = simd(0xf2);
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const loop = (body: number[]): number[] => [0x03, 0x40, ...body, 0x0b];
const brIf = (depth: number): number[] => [0x0d, ...uleb(depth)];

/** Bytes of the module: one exported memory, one exported function `block` (see the WAT above). */
function moduleBytes(): number[] {
  // params: 0 mc, 1 nc, 2 kc, 3 c0; i32 locals: 4 jr, 5 ir, 6 a, 7 b, 8 p, 9 c; v128 locals: 10-17 acc, 18 b01, 19 b23, 20 ai
  const [mc, nc, kc, c0, jr, ir, a, b, p, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const acc = (r: number, h: number): number => 10 + 2 * r + h;
  const b01 = 18, b23 = 19, av = 20;
  const rowBytes = NC * 8;

  const kLoop: number[] = [
    ...get(b), ...v128Load(0), ...set(b01),
    ...get(b), ...v128Load(16), ...set(b23),
  ];
  for (let r = 0; r < MR; r++) {
    kLoop.push(
      ...get(a), ...load64Splat(8 * r), ...set(av),
      ...get(acc(r, 0)), ...get(av), ...get(b01), ...f64x2Mul, ...f64x2Add, ...set(acc(r, 0)),
      ...get(acc(r, 1)), ...get(av), ...get(b23), ...f64x2Mul, ...f64x2Add, ...set(acc(r, 1)),
    );
  }
  kLoop.push(
    ...get(a), ...i32(MR * 8), ...add, ...set(a),
    ...get(b), ...i32(NR * 8), ...add, ...set(b),
    ...get(p), ...i32(1), ...add, ...set(p),
    ...get(p), ...get(kc), ...ltU, ...brIf(0),
  );

  const tile: number[] = [
    // a = ir·kc·8, b = A_BYTES + jr·kc·8, p = 0, accumulators = 0
    ...get(ir), ...get(kc), ...mul, ...i32(8), ...mul, ...set(a),
    ...get(jr), ...get(kc), ...mul, ...i32(8), ...mul, ...i32(A_BYTES), ...add, ...set(b),
    ...i32(0), ...set(p),
  ];
  for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) tile.push(...v128Zero, ...set(acc(r, h)));
  tile.push(...loop(kLoop));
  // c = c0 + (ir·NC + jr)·8; C[r] += acc[r]
  tile.push(...get(ir), ...i32(NC), ...mul, ...get(jr), ...add, ...i32(8), ...mul, ...get(c0), ...add, ...set(c));
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) {
      const off = r * rowBytes + 16 * h;
      tile.push(...get(c), ...get(c), ...v128Load(off), ...get(acc(r, h)), ...f64x2Add, ...v128Store(off));
    }
  }
  tile.push(...get(ir), ...i32(MR), ...add, ...set(ir), ...get(ir), ...get(mc), ...ltU, ...brIf(0));

  const body: number[] = [
    ...i32(0), ...set(jr),
    ...loop([
      ...i32(0), ...set(ir),
      ...loop(tile),
      ...get(jr), ...i32(NR), ...add, ...set(jr), ...get(jr), ...get(nc), ...ltU, ...brIf(0),
    ]),
    0x0b,
  ];
  const locals = vec([[...uleb(6), I32], [...uleb(11), V128]]);
  const code = [...locals, ...body];

  return [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32]]), ...vec([])]])),
    ...section(3, vec([uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(Math.ceil(C_OFF / PAGE) + 1)]])),
    ...section(7, vec([[...str('block'), 0x00, ...uleb(0)], [...str('memory'), 0x02, ...uleb(0)]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
}

export interface SimdGemm {
  /** Tiles of C[c0 …] += Ap · Bp for an mc×nc block (multiples of 4) over kc, all in `memory`. */
  block(mc: number, nc: number, kc: number, c0: number): void;
  /** Float64 views of the packed A and B blocks and of at least `rows`×NC of C (fresh after growth). */
  views(rows: number): { ap: Float64Array; bp: Float64Array; cs: Float64Array };
}

function instantiate(): SimdGemm | null {
  const bytes = new Uint8Array(moduleBytes());
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return null;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const memory = inst.exports.memory as WebAssembly.Memory;
  const block = inst.exports.block as SimdGemm['block'];
  let buffer: ArrayBuffer | null = null;
  let ap = new Float64Array(0), bp = ap, cs = ap;
  return {
    block,
    views(rows) {
      const need = C_OFF + rows * NC * 8;
      if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
      if (buffer !== memory.buffer || cs.length < rows * NC) {
        buffer = memory.buffer;
        ap = new Float64Array(buffer, 0, MC * KC);
        bp = new Float64Array(buffer, A_BYTES, KC * NC);
        cs = new Float64Array(buffer, C_OFF, (buffer.byteLength - C_OFF) / 8);
      }
      return { ap, bp, cs };
    },
  };
}

export const simdGemm: SimdGemm | null = instantiate();
