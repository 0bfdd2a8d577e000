#!/usr/bin/env python
"""Publishes a BLISS scan with a Lima2 detector, the way BLISS does, with the real blissdata and
blissdata-lima2 packages, while writing the frames to disk the way Lima2 does.

- The stream definition is blissdata-lima2's own (`Lima2Stream.make_definition`: plugin lima2, a
  uint32 frame counter, `master_file: [path, data_path]`), created with blissdata's EventStream:
  `scan.create_stream` would start the Lima2 client, which shakes hands with a Lima2 conductor.
  Like BLISS's Lima2AcquisitionMaster, each status is the number of frames available (`np.uint32`).
- The frames go to `--receivers` receiver files in round robin (`--ordering`, the Lima2 RoundRobin
  topology: frame i to receiver ordering[i % N], as its `local` frame i // N), `--frames-per-file`
  frames per file, named `<prefix>_<receiver>_<file:05d>.h5` with the frames at
  `entry_0000/instrument/<detector>/data`, shape (n, channels, height, width) (h5py).
- The master file `<prefix>_master.h5` is written at the end by the Lima2 conductor's own code
  (lima2.conductor.processing.master_file.MasterFileGenerator, fed by its LookupTable with the
  same round-robin mapping): its virtual dataset maps every frame to the receiver files.

Frame i holds `frame_value(i)` below. Prints a JSON summary on stdout.

    lima2-publish.py --redis redis://… --dir /tmp/x --frames 14 --receivers 2 --frames-per-file 3

--no-master: the conductor never writes the master file (the bridge must report it).
--pause-after-frames K --resume-flag F: once K frames are published, wait until F exists.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import time

import h5py
import numpy as np
from blissdata.redis_engine.store import DataStore
from blissdata.streams.default import Stream
from blissdata.streams.event_stream import EventStream
from blissdata_lima2 import Lima2Stream
from lima2.common.types import FrameInfo, FrameType
from lima2.conductor.processing.master_file import FrameSavingChannel, MasterFileGenerator, MasterFileMetadata
from lima2.conductor.topology import FrameMapping, GlobalIdx, LocalIdx, LookupTable, ReceiverIdx


def frame_value(i: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    size = int(np.prod(shape))
    return ((np.arange(size, dtype=np.int64).reshape(shape) * 7 + i * 1013) % 65521).astype(dtype)


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat()


def placement(i: int, receivers: int, ordering: list[int], per_file: int) -> tuple[int, int, int, int]:
    """Round robin: (receiver, local index, file index, index in file) of frame i."""
    receiver = ordering[i % receivers]
    local = i // receivers
    return receiver, local, local // per_file, local % per_file


async def write_master(frames: int, receivers: int, ordering: list[int], info: FrameInfo, params: dict) -> None:
    lut = LookupTable(size_hint=max(frames, 2), num_receivers=receivers)

    async def mappings():
        for i in range(frames):
            r, local, _, _ = placement(i, receivers, ordering, params["nb_frames_per_file"])
            yield FrameMapping(receiver_idx=ReceiverIdx(np.uint32(r)), local_idx=LocalIdx(np.uint32(local)), frame_idx=GlobalIdx(np.uint32(i)))

    await lut.build(mappings())
    generator = MasterFileGenerator(
        name="frame", channel=FrameSavingChannel(info=info, frame_type=FrameType.DENSE, params=params),
        metadata=MasterFileMetadata(acq_params={"nb_frames": frames}, proc_params={}, det_info={}, user_metadata={}))
    await generator.write(num_receivers=receivers, lut=lut)


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True)
    p.add_argument("--dir", required=True, help="root folder of the Lima2 files")
    p.add_argument("--number", type=int, default=1)
    p.add_argument("--collection", default="sample1")
    p.add_argument("--dataset", default="0001")
    p.add_argument("--detector", default="lima2det")
    p.add_argument("--frames", type=int, default=14)
    p.add_argument("--receivers", type=int, default=2)
    p.add_argument("--ordering", type=int, nargs="*", default=None)
    p.add_argument("--frames-per-file", type=int, default=3)
    p.add_argument("--shape", type=int, nargs=3, default=[1, 5, 7], help="channels height width")
    p.add_argument("--dtype", default="uint16")
    p.add_argument("--batch", type=int, default=4, help="frames per status update")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--no-master", action="store_true")
    p.add_argument("--fifo-receiver-file", type=int, nargs=2, default=None, metavar=("RECEIVER", "FILE"),
                   help="this receiver file is a FIFO (named pipe) in the scan folder: its frames are not written")
    p.add_argument("--outside-receiver-file", type=int, nargs=2, default=None, metavar=("RECEIVER", "FILE"),
                   help="this receiver file is written outside --dir and reached through a symbolic link in the scan folder")
    p.add_argument("--pause-after-frames", type=int, default=None)
    p.add_argument("--resume-flag", default=None)
    args = p.parse_args(argv)

    shape = tuple(args.shape)
    dtype = np.dtype(args.dtype)
    ordering = args.ordering or list(range(args.receivers))
    assert sorted(ordering) == list(range(args.receivers)), "ordering must be a permutation of the receivers"
    ds = DataStore(args.redis)
    folder = os.path.join(args.dir, f"scan{args.number:04d}")
    os.makedirs(folder, exist_ok=True)
    prefix = f"{args.detector}_frame"
    params = {"base_path": folder, "filename_prefix": prefix, "file_exists_policy": "overwrite",
              "nb_frames_per_file": args.frames_per_file, "nx_entry_name": "entry_0000", "nx_instrument_name": "instrument",
              "nx_detector_name": args.detector, "nb_dimensions": "dim_4d", "enabled": True}
    data_path = f"entry_0000/instrument/{args.detector}/data"
    master_path = f"{folder}/{prefix}_master.h5"

    path = (f"/data/visitor/ihch123/id00/20261122/RAW_DATA/{args.collection}/"
            f"{args.collection}_{args.dataset}/{args.collection}_{args.dataset}.h5")
    identity = {"name": "loopscan", "number": args.number, "data_policy": "ESRF", "session": "demo",
                "proposal": "ihch123", "collection": args.collection, "dataset": args.dataset, "path": path}
    image = f"{args.detector}:frame"
    elapsed = "timer:elapsed_time"
    scan_info = {
        "name": "loopscan", "title": f"loopscan {args.frames} 0.1", "type": "loopscan", "npoints": args.frames,
        "count_time": 0.1, "data_dim": 1, "save": True, "start_time": now_iso(),
        # BLISS saves the scan file in the dataset folder and the Lima2 files below it (scan<NNNN>/).
        "filename": os.path.join(args.dir, f"{args.collection}_{args.dataset}.h5"),
        "session_name": "demo", "user_name": "opid00", "scan_nb": args.number, "data_writer": "nexus", "data_policy": "ESRF",
        "scan_meta_categories": ["positioners", "nexuswriter"],
        "writer_options": {"chunk_options": {}, "separate_scan_files": False},
        "positioners": {"positioners_start": {"sy": 0.0}, "positioners_dial_start": {"sy": 0.0}, "positioners_units": {"sy": "mm"}},
        "acquisition_chain": {"timer": {"devices": ["timer", args.detector], "top_master": "timer", "scalars": [elapsed],
                                        "spectra": [], "images": [image], "master": {"scalars": [elapsed]}}},
        "devices": {"timer": {"channels": [elapsed], "triggered_devices": [args.detector]}, args.detector: {"channels": [image]}},
        "channels": {elapsed: {"display_name": "elapsed_time", "dim": 0, "unit": "s"}, image: {"display_name": "frame", "dim": 2}},
        "plots": [],
        "dataset_metadata_snapshot": {"Sample_name": args.collection},
    }
    scan = ds.create_scan(identity, info=scan_info)
    definition = Lima2Stream.make_definition(
        image, source_name="frame", conductor_hostname="127.0.0.1", conductor_port=1,
        acq_uuid="6f1c9a52-0000-4000-8000-000000000002", master_file=(master_path, data_path), dtype=dtype, shape=shape)
    model = ds._stream_model(encoding=definition.encoder.info(), info=definition.info)
    lima2 = EventStream.create(ds, definition.name, model)
    scan._model.data_streams[definition.name] = model
    timer = scan.create_stream(Stream.make_definition(elapsed, np.float64, info={"unit": "s"}))
    scan.prepare()
    scan.start()

    written = 0
    paused = False
    files: dict[str, int] = {}
    while written < args.frames:
        stop = min(written + args.batch, args.frames)
        for i in range(written, stop):
            r, _local, k, index = placement(i, args.receivers, ordering, args.frames_per_file)
            name = f"{prefix}_{r}_{k:05d}.h5"
            if args.fifo_receiver_file == [r, k]:
                if not os.path.lexists(os.path.join(folder, name)):
                    os.mkfifo(os.path.join(folder, name))
                files[name] = files.get(name, 0) + 1
                continue
            if args.outside_receiver_file == [r, k] and not os.path.lexists(os.path.join(folder, name)):
                outside = os.path.join(os.path.dirname(os.path.abspath(args.dir)), f"outside-{os.path.basename(args.dir)}")
                os.makedirs(outside, exist_ok=True)
                h5py.File(os.path.join(outside, name), "w").close()
                os.symlink(os.path.join(outside, name), os.path.join(folder, name))
            with h5py.File(os.path.join(folder, name), "a") as f:
                if data_path not in f:
                    f.attrs["NX_class"] = "NXroot"
                    f.create_dataset(data_path, shape=(0, *shape), maxshape=(args.frames_per_file, *shape), dtype=dtype)
                d = f[data_path]
                d.resize(index + 1, axis=0)
                d[index] = frame_value(i, shape, dtype)
            files[name] = files.get(name, 0) + 1
        timer.send(np.arange(written, stop) * 0.1)
        lima2.send(np.uint32(stop))
        lima2.join()
        written = stop
        if args.pause_after_frames is not None and not paused and written >= args.pause_after_frames:
            paused = True
            sys.stderr.write(f"paused after {written} frames\n")
            sys.stderr.flush()
            while not os.path.exists(args.resume_flag):
                time.sleep(0.05)
        if args.sleep:
            time.sleep(args.sleep)
    timer.seal()
    lima2.seal()
    if not args.no_master:
        info = FrameInfo(num_channels=shape[0], height=shape[1], width=shape[2], pixel_type=dtype)
        asyncio.run(write_master(args.frames, args.receivers, ordering, info, params))
    scan.stop()
    info_end = scan.info
    info_end["end_time"] = now_iso()
    info_end["end_reason"] = "SUCCESS"
    scan.info = info_end
    scan.close()
    frame_files = {}
    for i in range(args.frames):
        r, _l, k, index = placement(i, args.receivers, ordering, args.frames_per_file)
        frame_files[i] = [f"{prefix}_{r}_{k:05d}.h5", index]
    json.dump({
        "scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "frames": args.frames, "stream": image,
        "shape": list(shape), "dtype": dtype.str, "folder": folder, "prefix": prefix, "master_file": master_path,
        "data_path": data_path, "receiver_files": dict(sorted(files.items())), "placement": [frame_files[i] for i in range(args.frames)],
        "stream_info": model.info,
    }, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
