/**
 * 2D detectors whose frames stay in Lima HDF5 files (uploaded as they are by the bridge, next to the
 * scan file): the detector group `instrument/<name>` (NXdetector) links the frames with HDF5
 * external links whose file names are relative to the scan file (`scan0001/pilatus_0000.h5`), so
 * they resolve in S3-mirrored folders and in a downloaded dataset folder alike. Nothing is copied.
 *
 * blisswriter joins the files into one virtual dataset `data`; h5wasm cannot create virtual
 * datasets, so (docs/nexus-layout.md, "Lima detectors"):
 * - frames in one file: `data` is an external link to the frames dataset of that file;
 * - frames in several files: `data_files/` (NXcollection) holds one external link per file,
 *   `data_0000`, `data_0001` … in frame order, and its `frame_ranges` attribute gives the scan frames
 *   `[start, stop)` of each link; `measurement/<name>` then points at that group.
 * Frames never saved or whose file was lost are listed in the group's `missing_points` attribute
 * (`input.points` is the frame count; the links' frame ranges say where each frame is).
 *
 * Lima2: the one linked file is the Lima2 master file, whose virtual dataset (written by the Lima2
 * conductor, with relative source names) maps every frame, in scan order, to the receiver files
 * uploaded beside it: `data` links it, exactly like blisswriter. The receivers may interleave the
 * frames (round robin, dynamic dispatch), so the receiver files are not presented as frame ranges:
 * `receiver_files/` (NXcollection) holds one external link per receiver file, named like the file,
 * with `receiver` and `file_index` attributes (in link order) and `frames_mapped_by` naming the
 * virtual dataset that says which scan frames each holds.
 */
import type { PlanNode } from '../plan.js';

/** A Lima2 receiver file beside the master file, as the scan file sees it. */
export interface LimaReceiverLink {
  /** Path relative to the scan file's folder (`scan0001/det_frame_1_00000.h5`). */
  file: string;
  receiver: number;
  fileIndex: number;
}

/** One uploaded Lima file, as the scan file sees it. */
export interface LimaLinkedFile {
  /** Path of the file relative to the scan file's folder (`scan0001/pilatus_0000.h5`). */
  file: string;
  /** Scan frames [start, stop) it holds … */
  start: number;
  stop: number;
  /** … from this frame index of its dataset on. */
  frameOffset: number;
  /** Lima2: this file is the master file, and these are the receiver files its virtual dataset reads. */
  receivers?: readonly LimaReceiverLink[] | undefined;
}

export interface LimaLayoutInput {
  /** The detector group, e.g. `/1.1/instrument/image`. */
  group: string;
  /** Dataset of the frames inside each file. */
  dataPath: string;
  files: readonly LimaLinkedFile[];
  points: number;
  /** `missing_points` text when frames are missing. */
  missingPoints?: string | undefined;
}

export interface LimaLayout {
  nodes: PlanNode[];
  /** What `measurement/<name>` links to. */
  target: string;
}

export const limaImageWriter = {
  kind: 'lima-image',
  layout(input: LimaLayoutInput): LimaLayout {
    // Datums of one file over contiguous frames (a Lima2 master announced in parts) are one link.
    const files: LimaLinkedFile[] = [];
    for (const f of [...input.files].sort((a, b) => a.start - b.start)) {
      const last = files.at(-1);
      if (last && last.file === f.file && last.stop === f.start && f.frameOffset === last.frameOffset + (last.stop - last.start)) {
        files[files.length - 1] = { ...last, stop: f.stop, receivers: [...(last.receivers ?? []), ...(f.receivers ?? [])] };
      } else {
        files.push(f);
      }
    }
    const attrs = {
      NX_class: 'NXdetector',
      ...(input.missingPoints ? { missing_points: input.missingPoints } : {}),
    };
    const nodes: PlanNode[] = [{ kind: 'group', path: input.group, attrs }];
    const single = files.length === 1 && files[0]!.start === 0 && files[0]!.frameOffset === 0 && files[0]!.stop === input.points;
    if (single) {
      const only = files[0]!;
      nodes.push({ kind: 'external-link', path: `${input.group}/data`, file: only.file, target: input.dataPath });
      const receivers = [...(only.receivers ?? [])].sort((a, b) => a.receiver - b.receiver || a.fileIndex - b.fileIndex);
      if (receivers.length > 0) {
        const folder = `${input.group}/receiver_files`;
        nodes.push({
          kind: 'group',
          path: folder,
          attrs: {
            NX_class: 'NXcollection',
            receiver: receivers.map((r) => String(r.receiver)),
            file_index: receivers.map((r) => String(r.fileIndex)),
            frames_mapped_by: `data: the virtual dataset ${input.dataPath} of ${only.file}`,
          },
        });
        for (const r of receivers) {
          const name = r.file.slice(r.file.lastIndexOf('/') + 1).replace(/\.h5$/, '');
          nodes.push({ kind: 'external-link', path: `${folder}/${name}`, file: r.file, target: input.dataPath });
        }
      }
      return { nodes, target: `${input.group}/data` };
    }
    const folder = `${input.group}/data_files`;
    nodes.push({
      kind: 'group',
      path: folder,
      attrs: {
        NX_class: 'NXcollection',
        frame_ranges: files.map((f) => `[${f.start}, ${f.stop})`),
        ...(files.some((f) => f.frameOffset !== 0) ? { frame_offsets: files.map((f) => String(f.frameOffset)) } : {}),
      },
    });
    files.forEach((f, i) => {
      nodes.push({ kind: 'external-link', path: `${folder}/data_${String(i).padStart(4, '0')}`, file: f.file, target: input.dataPath });
    });
    return { nodes, target: folder };
  },
} as const;
