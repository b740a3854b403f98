export { toDot, drawGraph, renderSvg, type DotOptions } from './graph.js';
export {
  lineChartSvg, asciiChart, decisionBoundarySvg, niceTicks, toClasses, PALETTE,
  type Series, type ChartOptions, type AsciiOptions, type BoundaryOptions,
} from './plot.js';
