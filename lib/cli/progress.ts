// Training progress on the terminal: a cli-progress bar when stdout is a TTY, one plain line per
// epoch otherwise (logs, CI, pipes).
import cliProgress from 'cli-progress';
import type { EpochLogs } from '../train/index.js';
import type { TrainHooks } from './train.js';

const pct = (a: number): string => `${(100 * a).toFixed(2)}%`;

/** "42s", "3m07s", "1h02m": a time with its unit. */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--';
  if (s >= 3600) {
    const h = Math.floor(s / 3600);
    return `${h}h${String(Math.floor((s - 3600 * h) / 60)).padStart(2, '0')}m`;
  }
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}

export function epochLine(e: EpochLogs): string {
  return `epoch ${String(e.epoch).padStart(String(e.epochs).length)}/${e.epochs}  loss ${e.loss.toFixed(4)}  `
    + (e.accuracy !== undefined ? `train acc ${pct(e.accuracy)}  ` : '')
    + (e.valLoss !== undefined ? `test loss ${e.valLoss.toFixed(4)}  ` : '')
    + (e.valAccuracy !== undefined ? `test acc ${pct(e.valAccuracy)}  ` : '')
    + `${Math.round(e.samplesPerSec)} samples/s  ${e.seconds.toFixed(2)}s`;
}

/** Hooks that report progress on `out` (default process.stdout); call finish() when training ends or fails. */
export function progressReporter(opts: { out?: NodeJS.WriteStream; tty?: boolean; quiet?: boolean } = {}): TrainHooks & { finish(): void } {
  const out = opts.out ?? process.stdout;
  const tty = opts.tty ?? Boolean(out.isTTY);
  const write = (s: string): void => { out.write(`${s}\n`); };
  if (opts.quiet) return { finish() {} };
  if (!tty) {
    let every = 1;
    return {
      onEpoch(e) {
        // at most ~50 lines for long runs (xor trains for hundreds of tiny epochs)
        if (e.epoch === 1) every = Math.max(1, Math.ceil(e.epochs / 50));
        if (e.epoch % every === 0 || e.epoch === e.epochs || e.epoch === 1) write(epochLine(e));
      },
      finish() {},
    };
  }

  const multi = new cliProgress.MultiBar({
    stream: out,
    format: 'epoch {epoch}/{epochs} {bar} {batch}/{batches} loss {loss} acc {acc} {speed} samples/s ETA {etaText}',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    barsize: 10,
    hideCursor: true,
    clearOnComplete: true,
    fps: 10,
  });
  let bar: cliProgress.SingleBar | null = null;
  let total = 0, done = 0, start = 0, startEpoch = 0, batches = 1, every = 1;
  return {
    onStart(info) {
      batches = info.batches;
      startEpoch = info.startEpoch;
      total = (info.options.epochs - info.startEpoch) * info.batches;
      every = Math.max(1, Math.ceil((info.options.epochs - info.startEpoch) / 50));
      start = performance.now();
      bar = multi.create(total, 0, { epoch: info.startEpoch + 1, epochs: info.options.epochs, batch: 0, batches, loss: '-', acc: '-', speed: '-', etaText: '--' });
    },
    onProgress(p) {
      done = (p.epoch - 1 - startEpoch) * batches + p.batch;
      const elapsed = (performance.now() - start) / 1000;
      bar?.update(done, {
        epoch: p.epoch, epochs: p.epochs, batch: p.batch, batches: p.batches ?? batches,
        loss: p.meanLoss.toFixed(4), acc: p.accuracy === undefined ? '-' : pct(p.accuracy), speed: Math.round(p.samplesPerSec),
        etaText: duration(done ? (elapsed / done) * (total - done) : NaN),
      });
    },
    onEpoch(e) {
      if (e.epoch % every === 0 || e.epoch === e.epochs || e.epoch === startEpoch + 1) multi.log(`${epochLine(e)}\n`);
    },
    finish() {
      multi.stop();
    },
  };
}
