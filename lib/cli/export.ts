// `tapegrad export`: a model file written by tapegrad train, as an ONNX file for ONNX Runtime.
import type { Command } from 'commander';
import { exportOnnx, DEFAULT_OPSET } from '../io/onnx.js';
import { readModel } from './modelfile.js';

export interface ExportOptions { model: string; onnx: string; opset?: number }

/** Export the model with the input standardization it was trained with (CSV data) as its first nodes. */
export function exportCommand(opts: ExportOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const { model, arch, inFeatures, description } = readModel(opts.model);
  const opset = opts.opset ?? DEFAULT_OPSET;
  const normalize = arch?.normalize;
  exportOnnx(model, opts.onnx, { opset, ...(normalize && { normalize }), ...(inFeatures !== null && { inputShape: [1, inFeatures] }) });
  const std = normalize ? ', standardized inside the model' : '';
  log(`wrote ${opts.onnx} (ONNX opset ${opset}, ${description}): input "input" [batch, ${inFeatures ?? '…'}]${std} -> output "output"`);
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
