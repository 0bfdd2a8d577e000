/** NXstxm export (in progress). */
import { ExportRequestError } from './errors.js';
import type { BuildExportOptions, ExportProduct, ExportRun } from './model.js';

export function buildNxstxmExport(runs: readonly ExportRun[], _options: BuildExportOptions): ExportProduct {
  throw new ExportRequestError('the NXstxm export is not available yet', { runUid: runs[0]?.uid, format: 'nxstxm' });
}
