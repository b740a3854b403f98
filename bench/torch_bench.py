#!/usr/bin/env python3
"""PyTorch cases for the tapegrad benchmark (bench/run.mjs runs it as a child process).

    /usr/bin/python3 bench/torch_bench.py [--threads=1|default] [--spec=<json>] [--quick]

Mirrors bench/cases/common.mjs: the same shapes, the same data (mulberry32, seed 1234), the same timing
rule (warm-up, then repeats of whole steps lasting at least minTime, median). Prints one JSON object on
stdout; when torch cannot be imported it prints {"unavailable": "..."} and exits 0.

--threads=1 sets torch.set_num_threads(1) and openblas_set_num_threads(1) (through ctypes on the
libopenblas that torch loaded); --threads=default leaves both alone (Debian's torch: 1 and 2).
"""
import ctypes
import json
import os
import resource
import sys
import time

ARGS = {}
for a in sys.argv[1:]:
    if a.startswith('--'):
        k, _, v = a[2:].partition('=')
        ARGS[k] = v if _ else True

OUT = {'engine': 'pytorch', 'pid': os.getpid(), 'python': sys.version.split()[0], 'rows': []}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "skip this engine"
    OUT['unavailable'] = f'PyTorch unavailable: {type(e).__name__}: {e} (python: {sys.executable})'
    emit(OUT)
    sys.exit(0)

M32 = 0xFFFFFFFF
MLP = {'batch': 128, 'sizes': [784, 512, 256, 10], 'lr': 0.01}
LARGE = {'batch': 512, 'sizes': [784, 2048, 2048, 10], 'lr': 0.01}
XOR_LR = 0.1


def mlp_gemms(batch, sizes, prefix):
    out = []
    for l in range(len(sizes) - 1):
        i, o = sizes[l], sizes[l + 1]
        out.append({'name': f'{prefix}fwd{l + 1}', 'm': batch, 'n': o, 'k': i, 'ta': False, 'tb': True})
        out.append({'name': f'{prefix}dW{l + 1}', 'm': o, 'n': i, 'k': batch, 'ta': True, 'tb': False})
        if l > 0:
            out.append({'name': f'{prefix}dX{l + 1}', 'm': batch, 'n': i, 'k': o, 'ta': False, 'tb': False})
    return out


def step_flop(cfg):
    return sum(2 * g['m'] * g['n'] * g['k'] for g in mlp_gemms(cfg['batch'], cfg['sizes'], ''))


def default_spec(quick):
    squares = [{'name': f'{n}²', 'm': n, 'n': n, 'k': n, 'ta': False, 'tb': False}
               for n in ([256, 512, 1024] if quick else [256, 512, 1024, 2048])]
    return {
        'quick': quick,
        'cases': ['sgemm', 'mlp', 'xor'] if quick else ['sgemm', 'mlp', 'large', 'xor'],
        'sgemm': {'shapes': squares + mlp_gemms(MLP['batch'], MLP['sizes'], 'mlp.')},
        'timing': ({'warmupTime': 0.05, 'minWarmup': 1, 'repeats': 3, 'minTime': 0.05, 'maxCaseTime': 1, 'maxCallTime': 0.25, 'maxStepTime': 2}
                   if quick else
                   {'warmupTime': 0.3, 'minWarmup': 2, 'repeats': 7, 'minTime': 0.2, 'maxCaseTime': 15, 'maxCallTime': 8, 'maxStepTime': 8}),
        'xor': {'warmupTime': 0.2, 'repeats': 5, 'minTime': 0.05} if quick else {'warmupTime': 0.5, 'repeats': 9, 'minTime': 0.2},
    }


def mulberry32(seed, n):
    """The first n outputs of bench/cases/common.mjs mulberry32(seed) (counter-based, so vectorized)."""
    with np.errstate(over='ignore'):
        a = (np.uint32(seed) + np.arange(1, n + 1, dtype=np.uint64).astype(np.uint32) * np.uint32(0x6D2B79F5)).astype(np.uint32)
        t = a
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        return (t ^ (t >> np.uint32(14))).astype(np.float64) / 4294967296.0


def mlp_data(batch, features, classes):
    r = mulberry32(1234, batch * features + batch)
    x = torch.from_numpy((2 * r[:batch * features] - 1).astype(np.float32)).reshape(batch, features)
    y = torch.from_numpy(np.floor(r[batch * features:] * classes).astype(np.int64))
    return x, y


def gemm_data(n, seed):
    return torch.from_numpy((mulberry32(seed, n) - 0.5).astype(np.float32))


def summarize(rates, warmup_calls):
    s = sorted(rates)
    mid = len(s) // 2
    med = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    return {'median': med, 'min': s[0], 'max': s[-1], 'repeats': len(s), 'warmupCalls': warmup_calls}


def measure(fn, t, allow_cap=False):
    now = time.perf_counter
    w0, calls = now(), 0
    while calls < t['minWarmup'] or now() - w0 < t['warmupTime']:
        fn()
        calls += 1
        el = now() - w0
        if calls == 1 and allow_cap and t.get('maxCallTime', 0) > 0 and el > t['maxCallTime']:
            r = summarize([1 / el], 0)
            r['capped'] = f"one call of {el:.2f} s, no warm-up (> maxCallTime {t['maxCallTime']} s)"
            return r
        if el > t['maxCaseTime'] / 4:
            break
    per_call = (now() - w0) / calls
    repeats = max(3, min(t['repeats'], int(t['maxCaseTime'] / max(per_call, t['minTime']))))
    rates = []
    for _ in range(repeats):
        n, t0 = 0, now()
        while True:
            fn()
            n += 1
            if now() - t0 >= t['minTime']:
                break
        rates.append(n / (now() - t0))
    return summarize(rates, calls)


def openblas_lib():
    """The libopenblas torch loaded (found in /proc/self/maps), as a ctypes handle, or None."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # make sure BLAS is loaded
    try:
        with open('/proc/self/maps') as f:
            paths = sorted({line.split()[-1] for line in f if 'libopenblas' in line and line.split()[-1].startswith('/')})
    except OSError:
        paths = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib, p
        except (OSError, AttributeError):
            continue
    return None, None


def sgemm_case(spec):
    for s in spec['sgemm']['shapes']:
        m, n, k = s['m'], s['n'], s['k']
        a = gemm_data(m * k, 1).reshape((k, m) if s['ta'] else (m, k))
        b = gemm_data(k * n, 2).reshape((n, k) if s['tb'] else (k, n))
        A = a.t() if s['ta'] else a
        B = b.t() if s['tb'] else b
        c = torch.empty(m, n)
        flop = 2 * m * n * k
        r = measure(lambda: torch.mm(A, B, out=c), spec['timing'], allow_cap=True)
        row = {'case': 'sgemm', 'shape': s['name'], 'flop': flop, 'unit': 'GFLOP/s', 'higherIsBetter': True,
               'median': r['median'] * flop / 1e9, 'min': r['min'] * flop / 1e9, 'max': r['max'] * flop / 1e9,
               'repeats': r['repeats'], 'secPerCall': 1 / r['median']}
        if 'capped' in r:
            row['note'] = r['capped']
        OUT['rows'].append(row)


def build_mlp(cfg):
    torch.manual_seed(0)
    layers = []
    sizes = cfg['sizes']
    for l in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        if l + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=cfg['lr'])
    x, y = mlp_data(cfg['batch'], sizes[0], sizes[-1])
    last = [None]

    def step():
        loss = F.cross_entropy(model(x), y)  # mean over the batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        last[0] = loss
    return step, lambda: last[0].item()


def mlp_case(name, cfg, spec):
    step, loss = build_mlp(cfg)
    step()
    loss0 = loss()
    r = measure(step, {**spec['timing'], 'maxCallTime': spec['timing']['maxStepTime']}, allow_cap=True)
    OUT['rows'].append({'case': name, 'unit': 'steps/s', 'higherIsBetter': True, 'median': r['median'], 'min': r['min'],
                        'max': r['max'], 'repeats': r['repeats'], 'flopPerStep': step_flop(cfg), 'loss0': loss0,
                        'lossEnd': loss(), **({'note': r['capped']} if 'capped' in r else {})})


def xor_case(spec):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=XOR_LR)
    x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    y = torch.tensor([[0.], [1.], [1.], [0.]])
    last = [None]

    def step():
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last[0] = loss
    step()
    loss0 = last[0].item()
    r = measure(step, {**spec['timing'], **spec['xor']})
    OUT['rows'].append({'case': 'xor', 'unit': 'µs/step', 'higherIsBetter': False, 'median': 1e6 / r['median'],
                        'min': 1e6 / r['max'], 'max': 1e6 / r['min'], 'repeats': r['repeats'], 'loss0': loss0,
                        'lossEnd': last[0].item()})


def main():
    spec = json.loads(ARGS['spec']) if 'spec' in ARGS else default_spec(bool(ARGS.get('quick')))
    threads = ARGS.get('threads', 'default')
    lib, path = openblas_lib()
    if threads != 'default' and threads is not True:
        torch.set_num_threads(int(threads))
        if lib is not None:
            lib.openblas_set_num_threads(int(threads))
    OUT['version'] = torch.__version__
    OUT['torchThreads'] = torch.get_num_threads()
    OUT['interopThreads'] = torch.get_num_interop_threads()
    if lib is not None:
        OUT['openblasThreads'] = lib.openblas_get_num_threads()
        OUT['openblas'] = {'path': path, 'config': lib.openblas_get_config().decode(), 'core': lib.openblas_get_corename().decode()}
    else:
        OUT['openblasThreads'] = None
        OUT['openblas'] = 'libopenblas not found in /proc/self/maps: thread count unknown'
    # The gemm thread count decides which tapegrad row this one is compared with.
    OUT['threads'] = OUT['openblasThreads'] or OUT['torchThreads']
    OUT['threadLabel'] = f"{OUT['threads']} (torch {OUT['torchThreads']}, OpenBLAS {OUT['openblasThreads']}{', default' if threads in ('default', True) else ''})"
    OUT['variant'] = 'default' if threads in ('default', True) else f'threads={threads}'
    t0 = time.perf_counter()
    for c in spec['cases']:
        sys.stderr.write(f"  pytorch {OUT['variant']}: {c}\n")
        if c == 'sgemm':
            sgemm_case(spec)
        elif c == 'mlp':
            mlp_case('mlp', MLP, spec)
        elif c == 'large':
            mlp_case('large', LARGE, spec)
        elif c == 'xor':
            xor_case(spec)
    OUT['seconds'] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    OUT['mem'] = {'maxrss': ru.ru_maxrss * 1024}
    OUT['cpuSeconds'] = ru.ru_utime + ru.ru_stime
    emit(OUT)


if __name__ == '__main__':
    main()
