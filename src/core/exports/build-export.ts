/**
 * The export use case's core: one builder per format, chosen from an explicit registry. A builder
 * turns archived runs into an `ExportProduct` (HDF5 trees or text files) or throws an
 * `ExportRequestError` saying what to change; it never returns a partial product.
 */
import { buildCsvExport } from './csv-export.js';
import { ExportRequestError } from './errors.js';
import { ExportFormat, isExportFormat, type BuildExportOptions, type ColumnData, type ExportProduct, type ExportRun } from './model.js';
import { buildNexusExport } from './nexus-export.js';
import { buildNxstxmExport } from './nxstxm-export.js';

export type ExportBuilder = (runs: readonly ExportRun<ColumnData>[], options: BuildExportOptions) => ExportProduct;

export const EXPORT_BUILDERS = {
  [ExportFormat.Nxstxm]: buildNxstxmExport,
  [ExportFormat.Nexus]: buildNexusExport,
  [ExportFormat.Csv]: buildCsvExport,
} as const satisfies Record<ExportFormat, ExportBuilder>;

export function buildExport(format: ExportFormat, runs: readonly ExportRun<ColumnData>[], options: BuildExportOptions): ExportProduct {
  if (!isExportFormat(format)) {
    throw new ExportRequestError(`unknown export format ${JSON.stringify(format)}: use one of ${Object.values(ExportFormat).join(', ')}`, {
      format: String(format),
    });
  }
  if (runs.length === 0) throw new ExportRequestError(`a ${format} export needs at least one run uid`, { format });
  return EXPORT_BUILDERS[format](runs, options);
}
