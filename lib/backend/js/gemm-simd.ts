// The inner loops of the JS backend's blocked gemm as a WebAssembly SIMD function, assembled here
// from its opcodes (no build step, no binary file). It multiplies packed float64 panels with f64x2
// lanes: every product and sum is the same float64 operation as in plain JS, only the summation
// order is the blocked one. Where WebAssembly SIMD is missing, simdGemm() is null and gemm.ts keeps
// its plain-JS micro-kernel.
//
// Memory layout (bytes), float64 throughout, fixed size: the memory never grows, because growing
// detaches its old ArrayBuffer, and after one detached buffer V8 checks for detachment on every
// typed-array access in optimized code of the whole process (measured: a Float32Array loop 1.6×
// slower after detaching an unrelated 8-byte buffer).
//   [0, A_BYTES)                  packed A block: MC×KC, MR-row micro-panels (gemm.ts packA)
//   [A_BYTES, C_OFF)              packed B block: KC×NC, NR-column micro-panels (gemm.ts packB)
//   [C_OFF, C_OFF + ROWS·NC·8)    C accumulator for ROWS×NC of C: row-major, row stride NC
//
// The function (as WAT):
//   (func (export "block") (param $mc i32) (param $nc i32) (param $kc i32) (param $row i32) (param $first i32)
//     ;; for jr in 0..nc step NR, ir in 0..mc step MR: the MR×NR tile of C at C_OFF + (($row + ir)·NC + jr)·8
//     ;; = (first ? 0 : tile) + Ap[ir-panel] · Bp[jr-panel] over kc, summed in f64x2 accumulators
//     ;; (MR rows × NR/2 lane pairs). mc and nc are multiples of MR and NR (the panels are zero-padded).

export const MR = 4;
export const NR = 4;
export const KC = 256;
export const MC = 64;
export const NC = 256;
/** Rows of C accumulated at a time (a multiple of MC). */
export const ROWS = 512;
const A_BYTES = MC * KC * 8;
const C_OFF = A_BYTES + KC * NC * 8;
const C_BYTES = ROWS * NC * 8;
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
const ifThenElse = (then: number[], other: number[]): number[] => [0x04, 0x40, ...then, 0x05, ...other, 0x0b];
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
  // params: 0 mc, 1 nc, 2 kc, 3 row (made the byte address c0 of C's row), 4 first; i32 locals: 5 jr, 6 ir, 7 a, 8 b, 9 p (end of a), 10 c;
  // v128 locals: MR·NR/2 accumulators, NR/2 for a row of B, 1 for a splat element of A
  const [mc, nc, kc, c0, first, jr, ir, a, b, p, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const H = NR / 2;
  const acc = (r: number, h: number): number => 11 + H * r + h;
  const bv = (h: number): number => 11 + MR * H + h;
  const av = 11 + MR * H + H;
  const rowBytes = NC * 8;

  const kLoop: number[] = [];
  for (let h = 0; h < H; h++) kLoop.push(...get(b), ...v128Load(16 * h), ...set(bv(h)));
  for (let r = 0; r < MR; r++) {
    kLoop.push(...get(a), ...load64Splat(8 * r), ...set(av));
    for (let h = 0; h < H; h++) {
      kLoop.push(...get(acc(r, h)), ...get(av), ...get(bv(h)), ...f64x2Mul, ...f64x2Add, ...set(acc(r, h)));
    }
  }
  kLoop.push(
    ...get(a), ...i32(MR * 8), ...add, ...set(a),
    ...get(b), ...i32(NR * 8), ...add, ...set(b),
    ...get(a), ...get(p), ...ltU, ...brIf(0),
  );

  const tile: number[] = [
    // a = ir·kc·8, b = A_BYTES + jr·kc·8, p = the end of a's panel, accumulators = 0
    ...get(ir), ...get(kc), ...mul, ...i32(8), ...mul, ...set(a),
    ...get(jr), ...get(kc), ...mul, ...i32(8), ...mul, ...i32(A_BYTES), ...add, ...set(b),
    ...get(a), ...get(kc), ...i32(MR * 8), ...mul, ...add, ...set(p),
  ];
  for (let r = 0; r < MR; r++) for (let h = 0; h < H; h++) tile.push(...v128Zero, ...set(acc(r, h)));
  tile.push(...loop(kLoop));
  // c = c0 + (ir·NC + jr)·8; C[r] = acc[r] on the first k block, else C[r] += acc[r]
  tile.push(...get(ir), ...i32(NC), ...mul, ...get(jr), ...add, ...i32(8), ...mul, ...get(c0), ...add, ...set(c));
  const store: number[] = [], accumulate: number[] = [];
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < H; h++) {
      const off = r * rowBytes + 16 * h;
      store.push(...get(c), ...get(acc(r, h)), ...v128Store(off));
      accumulate.push(...get(c), ...get(c), ...v128Load(off), ...get(acc(r, h)), ...f64x2Add, ...v128Store(off));
    }
  }
  tile.push(...get(first), ...ifThenElse(store, accumulate));
  tile.push(...get(ir), ...i32(MR), ...add, ...set(ir), ...get(ir), ...get(mc), ...ltU, ...brIf(0));

  const body: number[] = [
    ...get(c0), ...i32(rowBytes), ...mul, ...i32(C_OFF), ...add, ...set(c0),
    ...i32(0), ...set(jr),
    ...loop([
      ...i32(0), ...set(ir),
      ...loop(tile),
      ...get(jr), ...i32(NR), ...add, ...set(jr), ...get(jr), ...get(nc), ...ltU, ...brIf(0),
    ]),
    0x0b,
  ];
  const locals = vec([[...uleb(6), I32], [...uleb(MR * H + H + 1), V128]]);
  const code = [...locals, ...body];

  return [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])]])),
    ...section(3, vec([uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(Math.ceil((C_OFF + C_BYTES) / PAGE))]])),
    ...section(7, vec([[...str('block'), 0x00, ...uleb(0)], [...str('memory'), 0x02, ...uleb(0)]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
}

/** The tile loops of the blocked gemm, over their packing panels and accumulator. */
export interface Tiles {
  /** cs rows [row, row + mc) × [0, nc) (= if first, else +=) Ap · Bp over kc; mc, nc multiples of MR, NR. */
  block(mc: number, nc: number, kc: number, row: number, first: number): void;
  /** The packed A block, the packed B block and the ROWS×NC accumulator of C (row stride NC). */
  ap: Float64Array;
  bp: Float64Array;
  cs: Float64Array;
}

function instantiate(): Tiles | null {
  const bytes = new Uint8Array(moduleBytes());
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return null;
  let inst: WebAssembly.Instance;
  try {
    inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  } catch {
    return null; // e.g. no memory for the 1.6 MB instance: the plain-JS tiles still work
  }
  const { buffer } = inst.exports.memory as WebAssembly.Memory;
  return {
    block: inst.exports.block as Tiles['block'],
    ap: new Float64Array(buffer, 0, MC * KC),
    bp: new Float64Array(buffer, A_BYTES, KC * NC),
    cs: new Float64Array(buffer, C_OFF, ROWS * NC),
  };
}

let instance: Tiles | null | undefined;
/** The module's instance, made on first use (assembling and compiling it takes milliseconds). */
export function simdGemm(): Tiles | null {
  if (instance === undefined) instance = instantiate();
  return instance;
}
