/**
 * Run documents of a Lima detector stream: one StreamResource whose uri is the folder of the
 * uploaded Lima files (next to the scan file) and one StreamDatum per uploaded file. The frames
 * stay in the files as Lima wrote them; the documents say which scan frames each file holds.
 */
import { DetailType } from '../contract/detail-types.js';
import type { StreamDatum, StreamResource } from '../contract/generated-types.js';
import { validateDetail } from '../contract/validators.js';
import type { StoredObject } from '../ports.js';
import { LIMA_HDF5_MIMETYPE } from '../event-model/resources.js';
import { descriptorUid, resourceUid } from '../event-model/uids.js';
import type { LimaFileRange, LimaSaving } from './lima-files.js';
import { LIMA2_FILE_FORMAT, type Lima2DatumFiles, type Lima2Saving } from './lima2-files.js';

function resourceOf(
  runUid: string,
  bucket: string,
  folderKey: string,
  stream: string,
  parameters: StreamResource['parameters'],
): StreamResource {
  return validateDetail(DetailType.StreamResource, {
    uid: resourceUid(runUid, stream),
    run_start: runUid,
    data_key: stream,
    mimetype: LIMA_HDF5_MIMETYPE,
    uri: `s3://${bucket}/${folderKey}`,
    parameters,
  } satisfies StreamResource);
}

export function limaResourceOf(runUid: string, bucket: string, folderKey: string, saving: LimaSaving): StreamResource {
  return resourceOf(runUid, bucket, folderKey, saving.stream, {
    dtype_numpy: saving.dtype.str,
    point_shape: [...saving.frameShape],
    data_path: saving.dataPath,
    frames_per_file: saving.framesPerFile,
    frames_per_acquisition: saving.framesPerAcquisition,
    file_format: saving.fileFormat,
    source_file_path: saving.filePath,
  });
}

/**
 * A Lima2 stream: the frames are read through the master file's virtual dataset (`data_path`), which
 * maps them to the receiver files uploaded beside it; `source_file_path` is the master file on the
 * beamline disk. Frames per file are Lima2's saving parameters, not published: absent.
 */
export function lima2ResourceOf(runUid: string, bucket: string, folderKey: string, saving: Lima2Saving): StreamResource {
  return resourceOf(runUid, bucket, folderKey, saving.stream, {
    dtype_numpy: saving.dtype.str,
    point_shape: [...saving.frameShape],
    data_path: saving.dataPath,
    file_format: LIMA2_FILE_FORMAT,
    source_file_path: saving.masterPath,
  });
}

/**
 * One uploaded Lima file holding scan frames [range.start, range.stop) from its index `frameOffset`;
 * for a Lima2 master file, `lima2` records the receiver files its virtual dataset reads.
 */
export function limaDatumOf(
  runUid: string,
  bucket: string,
  stream: string,
  range: LimaFileRange,
  frameOffset: number,
  sourcePath: string,
  stored: StoredObject,
  lima2?: Lima2DatumFiles,
): StreamDatum {
  const resource = resourceUid(runUid, stream);
  return validateDetail(DetailType.StreamDatum, {
    uid: `${resource}/${range.start}-${range.stop}`,
    stream_resource: resource,
    descriptor: descriptorUid(runUid),
    indices: { start: range.start, stop: range.stop },
    seq_nums: { start: range.start + 1, stop: range.stop + 1 },
    chunk: { bucket, key: stored.key, bytes: stored.bytes, sha256: stored.sha256 },
    lima: { file_number: range.fileNumber, frame_offset: frameOffset, source_path: sourcePath },
    ...(lima2 ? { lima2 } : {}),
  } satisfies StreamDatum);
}
