// `tapegrad export`: a model file written by tapegrad train, as an ONNX file for ONNX Runtime.
import type { Command } from 'commander';
import { exportOnnx, DEFAULT_OPSET } from '../io/onnx.js';
import { readModel } from './train.js';

export interface ExportOptions { model: string; onnx: string; opset?: number }

/** Export the model with the input standardization it was trained with (CSV data) as its first nodes. */
export function exportCommand(opts: ExportOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const { model, arch } = readModel(opts.model);
  const opset = opts.opset ?? DEFAULT_OPSET;
  exportOnnx(model, opts.onnx, { opset, ...(arch.normalize && { normalize: arch.normalize }) });
  const std = arch.normalize ? ', standardized inside the model' : '';
  log(`wrote ${opts.onnx} (ONNX opset ${opset}): input "input" [batch, ${arch.inFeatures}]${std} -> output "output" [batch, ${arch.outFeatures}] (logits)`);
  return 0;
}

export function registerExport(program: Command): void {
  program.command('export')
    .description('write a model file as ONNX, for ONNX Runtime (needs the optional protobufjs package)')
    .requiredOption('--model <file>', 'model file written by tapegrad train')
    .requiredOption('--onnx <file>', 'ONNX file to write')
    .option('--opset <n>', `ONNX opset, 13 to 21 (default ${DEFAULT_OPSET})`, Number)
    .action((o: ExportOptions) => {
      process.exitCode = exportCommand({ model: o.model, onnx: o.onnx, opset: o.opset });
    });
}
