import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  completeFrames,
  filesOf,
  formatFileNumber,
  frameLocation,
  isLima2Stream,
  isLimaStream,
  parseLimaSaving,
  parseLimaStatus,
  pathOutsideFolder,
  scanSaveFolder,
  type LimaSaving,
} from '../../src/core/bliss/lima-files.js';
import { limaFileKey, scanDetectorFolder, scanFileKey } from '../../src/core/object-keys.js';
import { limaImageWriter } from '../../src/core/nexus/writers/lima-image-writer.js';

/** The stream info blissdata 2.4.5's LimaStream.make_definition writes (saving enabled). */
function limaInfo(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'lima_v1',
    plugin: 'lima',
    dtype: 'uint16',
    shape: [6, 8],
    lima_info: {
      protocol_version: 1,
      server_url: 'id00/limaccds/pilatus',
      buffer_max_number: 16,
      frame_per_acquisition: 7,
      acquisition_offset: 0,
      file_path: '/data/scan0001/pilatus_%04d.h5',
      data_path: '/entry_0000/measurement/data',
      file_format: 'HDF5',
      file_offset: 0,
      frame_per_file: 3,
      ...overrides,
    },
  };
}

const saving = (overrides: Record<string, unknown> = {}): LimaSaving => parseLimaSaving('pilatus:image', limaInfo(overrides));

describe('Lima streams: frame → file arithmetic (blissdata LimaClient)', () => {
  it('recognises Lima and Lima2 streams by plugin or legacy format', () => {
    assert.equal(isLimaStream({ info: { plugin: 'lima' } }), true);
    assert.equal(isLimaStream({ info: { format: 'lima_v1' } }), true);
    assert.equal(isLimaStream({ info: { plugin: 'lima2' } }), false);
    assert.equal(isLima2Stream({ info: { plugin: 'lima2' } }), true);
    assert.equal(isLima2Stream({ info: { format: 'lima_v2' } }), true);
    assert.equal(isLimaStream({ info: {} }), false);
  });

  it('reads the saving parameters and the numpy dtype name', () => {
    const s = saving();
    assert.equal(s.dtype.str, '<u2');
    assert.deepEqual(s.frameShape, [6, 8]);
    assert.equal(s.framesPerFile, 3);
    assert.equal(s.framesPerAcquisition, 7);
    assert.equal(s.dataPath, '/entry_0000/measurement/data');
  });

  it('refuses a stream saved to no file, a non-HDF5 format and a bad pattern, naming the stream', () => {
    const unsaved = limaInfo();
    delete (unsaved.lima_info as Record<string, unknown>).file_path;
    assert.throws(() => parseLimaSaving('pilatus:image', unsaved), /pilatus:image: the detector saves no file/);
    assert.throws(() => saving({ file_format: 'EDF' }), /pilatus:image: file_format "EDF" is not HDF5/);
    assert.throws(() => saving({ file_path: '/data/pilatus.h5' }), /not a pattern with one %d/);
    assert.throws(() => saving({ frame_per_file: 0 }), /frame_per_file is 0/);
    assert.throws(() => saving({ protocol_version: 2 }), /protocol_version is 2/);
  });

  it('formats printf file patterns like Python %', () => {
    assert.equal(formatFileNumber('/a/pilatus_%04d.h5', 7), '/a/pilatus_0007.h5');
    assert.equal(formatFileNumber('/a/p_%d.h5', 12), '/a/p_12.h5');
    assert.equal(formatFileNumber('/a/100%%_%3d.h5', 5), '/a/100%_  5.h5');
    assert.throws(() => formatFileNumber('/a/%d_%d.h5', 1), /one %d/);
    assert.throws(() => formatFileNumber('/a/%s.h5', 1), /one %d/);
  });

  it('decomposes frames as blissdata does: 7 frames per acquisition, 3 per file → 3 files per acquisition', () => {
    const s = saving();
    // frame_id 0 1 2 | 3 4 5 | 6 | 7 8 9 | 10 11 12 | 13 (docstring of LimaClient._decompose_frame_id)
    const table = [
      [0, 0, 0],
      [2, 0, 2],
      [3, 1, 0],
      [6, 2, 0],
      [7, 3, 0],
      [9, 3, 2],
      [10, 4, 0],
      [13, 5, 0],
    ];
    for (const [frame, file, index] of table) {
      const at = frameLocation(s, frame!);
      assert.deepEqual([at.fileNumber, at.indexInFile], [file, index], `frame ${frame}`);
    }
    const offset = frameLocation(saving({ file_offset: 10 }), 7);
    assert.equal(offset.fileNumber, 13);
  });

  it('cuts frame ranges at file and acquisition boundaries', () => {
    assert.deepEqual(filesOf(saving(), 0, 14), [
      { fileNumber: 0, start: 0, stop: 3 },
      { fileNumber: 1, start: 3, stop: 6 },
      { fileNumber: 2, start: 6, stop: 7 },
      { fileNumber: 3, start: 7, stop: 10 },
      { fileNumber: 4, start: 10, stop: 13 },
      { fileNumber: 5, start: 13, stop: 14 },
    ]);
    const one = saving({ frame_per_acquisition: 25, frame_per_file: 10 });
    assert.deepEqual(filesOf(one, 10, 25), [
      { fileNumber: 1, start: 10, stop: 20 },
      { fileNumber: 2, start: 20, stop: 25 },
    ]);
    assert.deepEqual(filesOf(one, 5, 5), []);
    // A status no detector can have (2^52 frames saved) is refused before one entry per file is built.
    assert.throws(
      () => filesOf(one, 0, 2 ** 52, 'pilatus'),
      /Lima stream pilatus: frames \[0, 4503599627370496\) saved at once span more than 100000 files/,
    );
  });

  it('a file is complete once a frame of a later file is saved, or when the stream is sealed', () => {
    const s = saving({ frame_per_acquisition: 25, frame_per_file: 10 });
    assert.equal(completeFrames(s, -1, false), 0);
    assert.equal(completeFrames(s, 9, false), 0, 'file 0 may still be open');
    assert.equal(completeFrames(s, 10, false), 10);
    assert.equal(completeFrames(s, 24, false), 20);
    assert.equal(completeFrames(s, 24, true), 25, 'sealed: the partial last file too');
    assert.equal(completeFrames(s, -1, true), 0);
    // Acquisitions that do not end on a file boundary (7 per acquisition, 3 per file).
    assert.equal(completeFrames(saving(), 7, false), 7);
    assert.equal(completeFrames(saving(), 6, false), 6);
  });

  it('parses statuses and names the entry of a malformed one', () => {
    assert.deepEqual(parseLimaStatus('d', 0, Buffer.from('{"last_index": 4, "last_index_saved": 2}')), { lastIndex: 4, lastIndexSaved: 2 });
    assert.deepEqual(parseLimaStatus('d', 0, Buffer.from('{"last_index": 4}')), { lastIndex: 4, lastIndexSaved: -1 });
    assert.throws(() => parseLimaStatus('pilatus:image', 3, Buffer.from('nope')), /pilatus:image: status entry 3 is not JSON/);
    assert.throws(() => parseLimaStatus('d', 5, Buffer.from('{"last_index": "x"}')), /entry 5 has last_index "x"/);
  });
});

describe('Lima files: keys next to the scan file and the links of the scan file', () => {
  const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };

  it('puts the files in scan<NNNN>/ beside the scan file, named <detector>_<NNNN>.h5', () => {
    const scan = scanFileKey(policy, 3);
    const folder = scanDetectorFolder(policy, 3);
    assert.equal(folder, `${scan.slice(0, scan.lastIndexOf('/') + 1)}scan0003/`);
    assert.equal(limaFileKey(policy, 3, 'pilatus', 12), `${folder}pilatus_0012.h5`);
    assert.throws(() => limaFileKey(policy, 3, 'pilatus', -1), /not a non-negative integer/);
  });

  it('links one file as data, several files as data_files/data_NNNN with their frame ranges', () => {
    const one = limaImageWriter.layout({
      group: '/1.1/instrument/image',
      dataPath: '/entry_0000/measurement/data',
      points: 5,
      files: [{ file: 'scan0001/pilatus_0000.h5', start: 0, stop: 5, frameOffset: 0 }],
    });
    assert.equal(one.target, '/1.1/instrument/image/data');
    assert.deepEqual(one.nodes[1], {
      kind: 'external-link',
      path: '/1.1/instrument/image/data',
      file: 'scan0001/pilatus_0000.h5',
      target: '/entry_0000/measurement/data',
    });
    const many = limaImageWriter.layout({
      group: '/1.1/instrument/image',
      dataPath: '/d',
      points: 25,
      missingPoints: '[20, 25)',
      files: [
        { file: 'scan0001/p_0001.h5', start: 10, stop: 20, frameOffset: 0 },
        { file: 'scan0001/p_0000.h5', start: 0, stop: 10, frameOffset: 0 },
      ],
    });
    assert.equal(many.target, '/1.1/instrument/image/data_files');
    assert.deepEqual(
      many.nodes.map((n) => n.path),
      [
        '/1.1/instrument/image',
        '/1.1/instrument/image/data_files',
        '/1.1/instrument/image/data_files/data_0000',
        '/1.1/instrument/image/data_files/data_0001',
      ],
    );
    assert.deepEqual((many.nodes[1] as { attrs: Record<string, unknown> }).attrs.frame_ranges, ['[0, 10)', '[10, 20)']);
    assert.equal((many.nodes[0] as { attrs: Record<string, unknown> }).attrs.missing_points, '[20, 25)');
    assert.equal((many.nodes[2] as { file: string }).file, 'scan0001/p_0000.h5');
  });
});

describe('Lima checkpoint entries', () => {
  it('a damaged uploaded/missing record is named, never resumed from', async () => {
    const { damagedLimaCheckpoint } = await import('../../bridge/checkpoint/index.js');
    const ok = {
      committed: 20,
      datums: 2,
      gaps: [],
      uploaded: { 2: { key: 'k', bytes: 10, sha256: 'a'.repeat(64) } },
      missing: [{ start: 0, stop: 10, path: '/p', message: 'm' }],
    };
    assert.equal(damagedLimaCheckpoint(ok), undefined);
    assert.match(
      damagedLimaCheckpoint({ ...ok, uploaded: { 2: { key: 'k', bytes: -1, sha256: 'x' } } }) ?? '',
      /uploaded file "2" is not \{key, bytes, sha256\}/,
    );
    assert.match(
      damagedLimaCheckpoint({ ...ok, missing: [{ start: 5, stop: 5, path: '/p', message: 'm' }] }) ?? '',
      /missing file .* is not \{start, stop, path, message\}/,
    );
    // Lima2 receiver files keep the conductor's prefix, whatever characters it has (a restart must not call them damaged) …
    const stored = { key: 'k', bytes: 10, sha256: 'a'.repeat(64) };
    assert.equal(damagedLimaCheckpoint({ ...ok, receivers: { 'sample+1 det_frame_0_00000.h5': stored } }), undefined);
    // … but a name that is not one file name is damage.
    assert.match(
      damagedLimaCheckpoint({ ...ok, receivers: { '../x_0_00000.h5': stored } }) ?? '',
      /receiver file "\.\.\/x_0_00000\.h5" is not/,
    );
    assert.match(
      damagedLimaCheckpoint({ ...ok, receivers: { 'x_0_00000.h5': { ...stored, bytes: -1 } } }) ?? '',
      /receiver file "x_0_00000\.h5" is not/,
    );
  });
});

describe("Lima file paths from Redis: only below the scan file's folder", () => {
  it('the save folder is the folder of scan_info.filename, only for an absolute path without . or ..', () => {
    assert.equal(scanSaveFolder({ filename: '/data/visitor/p/id00/s/RAW_DATA/c/c_d/c_d.h5' }), '/data/visitor/p/id00/s/RAW_DATA/c/c_d');
    assert.equal(scanSaveFolder({}), undefined);
    assert.equal(scanSaveFolder({ filename: 'c_d.h5' }), undefined);
    assert.equal(scanSaveFolder({ filename: '/data/../etc/c_d.h5' }), undefined);
    assert.equal(scanSaveFolder({ filename: '/c_d.h5' }), undefined);
  });

  it('accepts a file below the folder and says why any other path is refused', () => {
    const folder = '/data/c/c_d';
    assert.equal(pathOutsideFolder('/data/c/c_d/scan0001/pilatus_%04d.h5', folder), undefined);
    assert.equal(pathOutsideFolder('/data/c/c_d/scan0001/pilatus_%04d.h5', `${folder}/`), undefined);
    assert.match(
      pathOutsideFolder('/etc/ssh/ssh_host_ed%d_key', folder) ?? '',
      /"\/etc\/ssh\/ssh_host_ed%d_key" is outside the scan's save folder \/data\/c\/c_d/,
    );
    assert.match(pathOutsideFolder('/data/c/c_d/../../../etc/passwd%d', folder) ?? '', /not an absolute path without \. or \.\. segments/);
    assert.match(pathOutsideFolder('/data/c/c_d/./x_%d.h5', folder) ?? '', /without \. or \.\. segments/);
    assert.match(pathOutsideFolder('scan0001/pilatus_%04d.h5', folder) ?? '', /not an absolute path/);
    assert.match(pathOutsideFolder('/data/c/c_d_other/pilatus_%04d.h5', folder) ?? '', /outside the scan's save folder/);
    assert.match(pathOutsideFolder('/data/c/c_d/scan0001/p\u0000_%d.h5', folder) ?? '', /control characters/);
    assert.match(pathOutsideFolder('/data/c/c_d/x_%d.h5', undefined) ?? '', /no absolute filename/);
  });
});
