import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLimaFiles } from '../../src/core/bliss/lima-archive.js';
import { lima2ResourceOf, limaDatumOf } from '../../src/core/bliss/lima-documents.js';
import { isLima2Stream, isLimaStream } from '../../src/core/bliss/lima-files.js';
import {
  completeLima2Files,
  isLima2FileFormat,
  lima2DatumParts,
  lima2FileHoles,
  LIMA2_RECORDS_PER_DATUM,
  lima2ReceiverFileName,
  LIMA2_FILE_FORMAT,
  parseLima2DatumFiles,
  parseLima2ReceiverFile,
  parseLima2Saving,
  parseLima2Status,
  type Lima2ReceiverRecord,
} from '../../src/core/bliss/lima2-files.js';
import { ChunkCoverageError } from '../../src/core/archive/errors.js';
import { scanDetectorFolder } from '../../src/core/object-keys.js';
import { MemoryObjectStore } from '../../src/adapters/memory/object-store.js';
import { limaImageWriter } from '../../src/core/nexus/writers/lima-image-writer.js';

/** The stream info and encoding blissdata-lima2 2.0.2's Lima2Stream.make_definition writes (as BLISS's Lima2 channel fills it). */
function lima2Info(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    plugin: 'lima2',
    dtype: 'uint16',
    shape: [1, 5, 7],
    protocol_version: 2,
    acq_uuid: '6f1c9a52-0000-4000-8000-000000000002',
    source_name: 'frame',
    conductor_hostname: 'lima2-conductor',
    conductor_port: 58712,
    master_file: ['/data/id00/sample1/scan0001/lima2det_frame_master.h5', 'entry_0000/instrument/lima2det/data'],
    ...overrides,
  };
}
const COUNTER = { type: 'numeric', dtype_str: '<u4', shape: [] };
const PREFIX = 'lima2det_frame';

describe('Lima2 streams: stream info, statuses, receiver files', () => {
  it('recognises a Lima2 stream (not a Lima one) by plugin or legacy format', () => {
    assert.equal(isLima2Stream({ info: lima2Info() }), true);
    assert.equal(isLimaStream({ info: lima2Info() }), false);
    assert.equal(isLima2Stream({ info: { format: 'lima_v2' } }), true);
  });

  it("reads the master file, its folder, the receivers' prefix and the virtual dataset path from the info", () => {
    const saving = parseLima2Saving('lima2det:frame', lima2Info(), COUNTER);
    assert.deepEqual(
      { ...saving, dtype: saving.dtype.str },
      {
        stream: 'lima2det:frame',
        dtype: '<u2',
        frameShape: [1, 5, 7],
        masterPath: '/data/id00/sample1/scan0001/lima2det_frame_master.h5',
        folder: '/data/id00/sample1/scan0001/',
        prefix: PREFIX,
        dataPath: '/entry_0000/instrument/lima2det/data',
      },
    );
  });

  it('refuses what cannot be archived, naming the stream and the reason', () => {
    const refuse = (info: Record<string, unknown>, pattern: RegExp, encoding: { type: string; dtype_str?: unknown } = COUNTER) =>
      assert.throws(
        () => parseLima2Saving('lima2det:frame', info, encoding),
        (e: Error) => e.name === 'InvalidInputError' && e.message.startsWith('Lima2 stream lima2det:frame: ') && pattern.test(e.message),
      );
    refuse(lima2Info({ master_file: null }), /saved to no file \(master_file is null\)/);
    refuse(lima2Info({ protocol_version: 1 }), /protocol_version is 1, only 2 is known/);
    refuse(lima2Info({ master_file: ['relative/x_master.h5', 'a/b'] }), /not an absolute <folder>\/<prefix>_master\.h5 path/);
    refuse(lima2Info({ master_file: ['/data/x.h5', 'a/b'] }), /not an absolute <folder>\/<prefix>_master\.h5 path/);
    refuse(lima2Info({ master_file: ['/data/x_master.h5'] }), /is not \[file path, data path\]/);
    refuse(lima2Info({ master_file: ['/data/x_master.h5', '/'] }), /not an HDF5 dataset path/);
    refuse(lima2Info({ shape: [5] }), /not a frame shape/);
    refuse(lima2Info(), /not the uint32 frame counter/, { type: 'json' });
    refuse(lima2Info(), /not the uint32 frame counter/, { type: 'numeric', dtype_str: '<f8' });
    assert.throws(
      () => parseLima2Saving('lima2det:frame', lima2Info({ dtype: 'object' }), COUNTER),
      /unsupported dtype "object" for stream lima2det:frame/,
    );
  });

  it('names receiver files as the Lima2 conductor does and recognises only those', () => {
    assert.equal(lima2ReceiverFileName(PREFIX, 1, 3), 'lima2det_frame_1_00003.h5');
    assert.equal(lima2ReceiverFileName(PREFIX, 0, 123456), 'lima2det_frame_0_123456.h5');
    assert.deepEqual(parseLima2ReceiverFile(PREFIX, 'lima2det_frame_1_00003.h5'), {
      name: 'lima2det_frame_1_00003.h5',
      receiver: 1,
      fileIndex: 3,
    });
    for (const other of [
      'lima2det_frame_master.h5',
      'lima2det_frame_1_0003.h5',
      'lima2det_frame_01_00003.h5',
      'other_1_00003.h5',
      'lima2det_frame_1_00003.h5.tmp',
      'lima2det_frame_x_00003.h5',
    ]) {
      assert.equal(parseLima2ReceiverFile(PREFIX, other), undefined, other);
    }
  });

  it('a receiver file is complete once that receiver started its next file; all are once the stream ended', () => {
    // Round robin over two receivers, 3 frames per file, 14 frames: receiver 1 gets frames 0, 2, 4 … in its files 0, 1, 2.
    const listing = [
      'lima2det_frame_1_00000.h5',
      'lima2det_frame_0_00001.h5',
      'lima2det_frame_0_00000.h5',
      'lima2det_frame_1_00001.h5',
      'lima2det_frame_1_00002.h5',
      'notes.txt',
      'lima2det_frame_master.h5',
    ];
    assert.deepEqual(
      completeLima2Files(PREFIX, listing, false).map((f) => f.name),
      ['lima2det_frame_0_00000.h5', 'lima2det_frame_1_00000.h5', 'lima2det_frame_1_00001.h5'],
    );
    assert.deepEqual(
      completeLima2Files(PREFIX, listing, true).map((f) => [f.receiver, f.fileIndex]),
      [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
        [1, 2],
      ],
    );
    assert.deepEqual(completeLima2Files(PREFIX, [], true), []);
  });

  it("reports a receiver file missing from the middle of a receiver's sequence", () => {
    const files = completeLima2Files(PREFIX, ['lima2det_frame_0_00000.h5', 'lima2det_frame_0_00002.h5', 'lima2det_frame_1_00000.h5'], true);
    assert.deepEqual(lima2FileHoles(PREFIX, files), ['lima2det_frame_0_00001.h5 is missing (receiver 0 has file 2)']);
    assert.deepEqual(
      lima2FileHoles(PREFIX, completeLima2Files(PREFIX, ['lima2det_frame_0_00000.h5', 'lima2det_frame_0_00001.h5'], true)),
      [],
    );
  });

  it('reads the frame counter (a batch of uint32; the last one counts) and refuses anything else', () => {
    const batch = Buffer.alloc(12);
    [4, 8, 14].forEach((v, i) => batch.writeUInt32LE(v, 4 * i));
    assert.equal(parseLima2Status('lima2det:frame', 3, batch), 14);
    assert.throws(() => parseLima2Status('lima2det:frame', 3, Buffer.alloc(6)), /Lima2 stream lima2det:frame: status entry 3 has 6 bytes/);
    assert.throws(() => parseLima2Status('lima2det:frame', 0, undefined), /status entry 0 has 0 bytes/);
  });

  it('announces the master file for every frame, with a valid StreamResource and StreamDatum, linked as data by the image writer', () => {
    const saving = parseLima2Saving('lima2det:frame', lima2Info(), COUNTER);
    const folder = 'archive/ihch123/id00/20261122/RAW_DATA/sample1/sample1_0001/scan0001/';
    const resource = lima2ResourceOf('RUN', 'bucket', folder, saving);
    assert.equal(resource.mimetype, 'application/x-hdf5-lima');
    assert.equal(isLima2FileFormat(resource.parameters.file_format), true);
    assert.deepEqual(resource.parameters, {
      dtype_numpy: '<u2',
      point_shape: [1, 5, 7],
      data_path: '/entry_0000/instrument/lima2det/data',
      file_format: LIMA2_FILE_FORMAT,
      source_file_path: '/data/id00/sample1/scan0001/lima2det_frame_master.h5',
    });
    const stored = { key: `${folder}lima2det_frame_master.h5`, bytes: 9000, sha256: 'a'.repeat(64) };
    const datum = limaDatumOf('RUN', 'bucket', saving.stream, { fileNumber: 0, start: 0, stop: 14 }, 0, saving.masterPath, stored);
    assert.deepEqual(
      [datum.indices, datum.chunk.key, datum.lima],
      [{ start: 0, stop: 14 }, stored.key, { file_number: 0, frame_offset: 0, source_path: saving.masterPath }],
    );
    const layout = limaImageWriter.layout({
      group: '/1.1/instrument/frame',
      dataPath: saving.dataPath,
      points: 14,
      files: [{ file: 'scan0001/lima2det_frame_master.h5', start: 0, stop: 14, frameOffset: 0 }],
    });
    assert.deepEqual(layout.nodes[1], {
      kind: 'external-link',
      path: '/1.1/instrument/frame/data',
      file: 'scan0001/lima2det_frame_master.h5',
      target: '/entry_0000/instrument/lima2det/data',
    });
    assert.equal(layout.target, '/1.1/instrument/frame/data');
  });

  it('the scan writer HEADs the master file and every receiver file its datum records, and links the receivers beside data', async () => {
    const policy = { proposal: 'ihch123', beamline: 'id00', session: '20261122', collection: 'sample1', dataset: '0001' };
    const folder = scanDetectorFolder(policy, 1);
    const saving = parseLima2Saving('lima2det:frame', lima2Info(), COUNTER);
    const receiver = (r: number, k: number, bytes: number): Lima2ReceiverRecord => ({
      receiver: r,
      file_index: k,
      key: `${folder}${lima2ReceiverFileName(PREFIX, r, k)}`,
      bytes,
      sha256: 'b'.repeat(64),
      source_path: `${saving.folder}${lima2ReceiverFileName(PREFIX, r, k)}`,
    });
    const receivers = [receiver(1, 0, 300), receiver(0, 0, 301)];
    const master = { key: `${folder}${PREFIX}_master.h5`, bytes: 9000, sha256: 'a'.repeat(64) };
    const datum = limaDatumOf('RUN', 'bkt', saving.stream, { fileNumber: 0, start: 0, stop: 4 }, 0, saving.masterPath, master, {
      receiver_files: receivers,
    });
    const resource = lima2ResourceOf('RUN', 'bkt', folder, saving);
    const store = (sizes: Record<string, number>) =>
      MemoryObjectStore.headOnly('bkt', sizes, 'the scan writer must not read or write Lima2 files');
    const complete = store({ [master.key]: 9000, [receivers[0]!.key]: 300, [receivers[1]!.key]: 301 });
    const run = { runUid: 'RUN', policy, scanNumber: 1 };
    const files = await checkLimaFiles(run, [resource], new Map([[saving.stream, [datum]]]), complete);
    assert.deepEqual(complete.keysOf('head'), [master.key, receivers[0]!.key, receivers[1]!.key]);
    const linked = files[saving.stream]!;
    assert.deepEqual(linked, [
      {
        file: `scan0001/${PREFIX}_master.h5`,
        start: 0,
        stop: 4,
        frameOffset: 0,
        receivers: [
          { file: `scan0001/${PREFIX}_1_00000.h5`, receiver: 1, fileIndex: 0 },
          { file: `scan0001/${PREFIX}_0_00000.h5`, receiver: 0, fileIndex: 0 },
        ],
      },
    ]);
    const layout = limaImageWriter.layout({ group: '/1.1/instrument/frame', dataPath: saving.dataPath, points: 4, files: linked });
    assert.deepEqual(layout.nodes.slice(1), [
      { kind: 'external-link', path: '/1.1/instrument/frame/data', file: `scan0001/${PREFIX}_master.h5`, target: saving.dataPath },
      {
        kind: 'group',
        path: '/1.1/instrument/frame/receiver_files',
        attrs: {
          NX_class: 'NXcollection',
          receiver: ['0', '1'],
          file_index: ['0', '0'],
          frames_mapped_by: `data: the virtual dataset ${saving.dataPath} of scan0001/${PREFIX}_master.h5`,
        },
      },
      {
        kind: 'external-link',
        path: `/1.1/instrument/frame/receiver_files/${PREFIX}_0_00000`,
        file: `scan0001/${PREFIX}_0_00000.h5`,
        target: saving.dataPath,
      },
      {
        kind: 'external-link',
        path: `/1.1/instrument/frame/receiver_files/${PREFIX}_1_00000`,
        file: `scan0001/${PREFIX}_1_00000.h5`,
        target: saving.dataPath,
      },
    ]);
    assert.equal(layout.target, '/1.1/instrument/frame/data');

    // A receiver file of another size, one missing, one outside the folder: all reported with receiver, file and source.
    const bad = limaDatumOf('RUN', 'bkt', saving.stream, { fileNumber: 0, start: 0, stop: 4 }, 0, saving.masterPath, master, {
      receiver_files: [receiver(1, 0, 300), receiver(0, 0, 301), { ...receiver(0, 1, 5), key: 'elsewhere/x_0_00001.h5' }],
    });
    await assert.rejects(
      checkLimaFiles(run, [resource], new Map([[saving.stream, [bad]]]), store({ [master.key]: 9000, [receivers[0]!.key]: 299 })),
      (e: Error) => {
        assert.ok(e instanceof ChunkCoverageError);
        const messages = e.errors.map((x) => x.message);
        assert.equal(messages.length, 3, messages.join('\n'));
        assert.match(
          messages[0]!,
          /Lima2 receiver file s3:\/\/bkt\/.*lima2det_frame_1_00000\.h5 \(receiver 1, file 0, from \/data\/id00\/sample1\/scan0001\/lima2det_frame_1_00000\.h5; read through Lima file .*lima2det_frame_master\.h5 \(frames \[0, 4\) of lima2det:frame.*\) has 299 bytes, its StreamDatum says 300/,
        );
        assert.match(messages[1]!, /lima2det_frame_0_00000\.h5 \(receiver 0, file 0.* does not exist/);
        assert.match(messages[2]!, /elsewhere\/x_0_00001\.h5 .* is outside the scan's detector folder/);
        return true;
      },
    );
  });

  it('reads the receiver files a master datum records and refuses a malformed record', () => {
    assert.equal(parseLima2DatumFiles(undefined), undefined);
    assert.equal(parseLima2DatumFiles({ receiver_files: 3 }), 'lima2.receiver_files is not a list');
    assert.match(
      parseLima2DatumFiles({
        receiver_files: [{ receiver: 0, file_index: 0, key: 'k', bytes: 1, sha256: 'x', source_path: '/a' }],
      }) as string,
      /receiver_files\[0\] is not/,
    );
  });

  it('splits the announcement of a master file with many receiver files into datums that fit an event, joined again by the image writer', () => {
    const record = (i: number): Lima2ReceiverRecord => ({
      receiver: i % 4,
      file_index: Math.floor(i / 4),
      key: `archive/p/scan0001/${PREFIX}_${i % 4}_${String(Math.floor(i / 4)).padStart(5, '0')}.h5`,
      bytes: 1000,
      sha256: 'c'.repeat(64),
      source_path: `/data/beamline/p/scan0001/${PREFIX}_${i % 4}_${String(Math.floor(i / 4)).padStart(5, '0')}.h5`,
    });
    assert.deepEqual(lima2DatumParts(14, [record(0), record(1)]), [{ start: 0, stop: 14, records: [record(0), record(1)] }]);
    const records = Array.from({ length: 2 * LIMA2_RECORDS_PER_DATUM + 1 }, (_, i) => record(i));
    const parts = lima2DatumParts(100_000, records);
    assert.deepEqual(
      parts.map((p) => [p.start, p.stop, p.records.length]),
      [
        [0, 33333, 201],
        [33333, 66666, 201],
        [66666, 100000, 199],
      ],
    );
    assert.deepEqual(
      parts.flatMap((p) => p.records),
      records,
      'every record once, in order',
    );
    // Each part, as a StreamDatum, stays far below the 256 KiB of a PutEvents entry.
    const saving = parseLima2Saving('lima2det:frame', lima2Info(), COUNTER);
    const master = { key: `archive/p/scan0001/${PREFIX}_master.h5`, bytes: 9000, sha256: 'a'.repeat(64) };
    for (const p of lima2DatumParts(
      100_000,
      Array.from({ length: 1000 }, (_, i) => record(i)),
    )) {
      const datum = limaDatumOf(
        'RUN',
        'bkt',
        saving.stream,
        { fileNumber: 0, start: p.start, stop: p.stop },
        p.start,
        saving.masterPath,
        master,
        { receiver_files: p.records },
      );
      assert.ok(JSON.stringify(datum).length < 160 * 1024, `${JSON.stringify(datum).length} bytes`);
    }
    // The scan writer joins the parts (same file, contiguous frames and offsets) into one `data` link with every receiver.
    const layout = limaImageWriter.layout({
      group: '/1.1/instrument/frame',
      dataPath: saving.dataPath,
      points: 10,
      files: [
        {
          file: 'scan0001/m.h5',
          start: 5,
          stop: 10,
          frameOffset: 5,
          receivers: [{ file: 'scan0001/r_1_00000.h5', receiver: 1, fileIndex: 0 }],
        },
        {
          file: 'scan0001/m.h5',
          start: 0,
          stop: 5,
          frameOffset: 0,
          receivers: [{ file: 'scan0001/r_0_00000.h5', receiver: 0, fileIndex: 0 }],
        },
      ],
    });
    assert.deepEqual(
      layout.nodes.filter((n) => n.kind === 'external-link').map((n) => n.path),
      ['/1.1/instrument/frame/data', '/1.1/instrument/frame/receiver_files/r_0_00000', '/1.1/instrument/frame/receiver_files/r_1_00000'],
    );
  });
});
