#!/usr/bin/env python
"""Publishes a BLISS scan with a Lima detector, the way BLISS does, with the real blissdata package.

The Lima stream is created with blissdata's own API (LimaStream.make_definition + scan.create_stream):
it carries only statuses {last_index, last_index_saved}; the frames are written by this script, as
Lima would, into real HDF5 files on disk (h5py): `<dir>/scan<NNNN>/<detector>_<NNNN>.h5`, frames in
`/entry_0000/measurement/data`, `--frames-per-file` per file (the last one partial), in acquisitions of
`--frames-per-acquisition` frames (default: one acquisition). Which file and which index in it a frame
goes to is what blissdata's own LimaClient says (`_file_ref`), and the summary lists, for every frame,
the reference a blissdata reader gets from `LimaStream.get_references` once the scan is over.
A scalar counter is published alongside (a numeric stream) so a test sees the other channels flow.

Frame i holds `frame_value(i)` below: a test recomputes it instead of shipping the frames around.

    lima-publish.py --redis redis://… --dir /tmp/x --frames 25 --frames-per-file 10 --shape 6 8

--missing-file K: file K is never written (Lima says it saved it: the bridge must report it).
--pause-after-files K --resume-flag F: once K files are complete and announced, wait until F exists.
--corrupt-diode: the diode's first batch is written by hand with its last byte missing (a broken
producer): the bridge fails the run early while the Lima files keep coming.
Prints a JSON summary on stdout.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import h5py
import numpy as np
from blissdata.redis_engine.store import DataStore
from blissdata.streams.default import Stream
from blissdata.lima.client import LimaClient
from blissdata.streams.lima import LimaStream

DATA_PATH = "/entry_0000/measurement/data"


def frame_value(i: int, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    h, w = shape
    return ((np.arange(h * w, dtype=np.int64).reshape(h, w) * 3 + i * 1009) % 65521).astype(dtype)


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat()


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True)
    p.add_argument("--dir", required=True, help="root folder of the Lima files")
    p.add_argument("--number", type=int, default=1)
    p.add_argument("--collection", default="sample1")
    p.add_argument("--dataset", default="0001")
    p.add_argument("--detector", default="pilatus")
    p.add_argument("--frames", type=int, default=25)
    p.add_argument("--frames-per-file", type=int, default=10)
    p.add_argument("--frames-per-acquisition", type=int, default=None)
    p.add_argument("--file-offset", type=int, default=0)
    p.add_argument("--shape", type=int, nargs=2, default=[6, 8])
    p.add_argument("--dtype", default="uint16")
    p.add_argument("--batch", type=int, default=3, help="frames per status update")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--missing-file", type=int, default=None)
    p.add_argument("--pause-after-files", type=int, default=None)
    p.add_argument("--resume-flag", default=None)
    p.add_argument("--corrupt-diode", action="store_true")
    p.add_argument("--scan-folder", default=None,
                   help="folder of the scan file (scan_info filename); default --dir, which holds scan<NNNN>/ as in BLISS")
    p.add_argument("--symlink-file", type=int, default=None, help="once written, this file is replaced by a symbolic link")
    p.add_argument("--symlink-target", default=None, help="what --symlink-file points at")
    p.add_argument("--not-hdf5-file", type=int, default=None, help="once written, this file's content is replaced by text (a regular file, not HDF5)")
    args = p.parse_args(argv)

    shape = tuple(args.shape)
    dtype = np.dtype(args.dtype)
    ds = DataStore(args.redis)
    folder = os.path.join(args.dir, f"scan{args.number:04d}")
    os.makedirs(folder, exist_ok=True)
    file_pattern = os.path.join(folder, f"{args.detector}_%04d.h5")
    path = (f"/data/visitor/ihch123/id00/20261122/RAW_DATA/{args.collection}/"
            f"{args.collection}_{args.dataset}/{args.collection}_{args.dataset}.h5")
    identity = {"name": "loopscan", "number": args.number, "data_policy": "ESRF", "session": "demo",
                "proposal": "ihch123", "collection": args.collection, "dataset": args.dataset, "path": path}
    image = f"{args.detector}:image"
    diode = "simulation_diode_sampling_controller:diode1"
    elapsed = "timer:elapsed_time"
    scan_info = {
        "name": "loopscan", "title": f"loopscan {args.frames} 0.1", "type": "loopscan", "npoints": args.frames,
        "count_time": 0.1, "data_dim": 1, "save": True, "start_time": now_iso(),
        # BLISS saves the scan file in the dataset folder and the Lima files below it (scan<NNNN>/).
        "filename": os.path.join(args.scan_folder or args.dir, f"{args.collection}_{args.dataset}.h5"),
        "session_name": "demo", "user_name": "opid00", "scan_nb": args.number, "data_writer": "nexus", "data_policy": "ESRF",
        "scan_meta_categories": ["positioners", "nexuswriter"],
        "writer_options": {"chunk_options": {}, "separate_scan_files": False},
        "positioners": {"positioners_start": {"sy": 0.0}, "positioners_dial_start": {"sy": 0.0}, "positioners_units": {"sy": "mm"}},
        "acquisition_chain": {"timer": {"devices": ["timer", args.detector, "simulation_diode_sampling_controller"],
                                        "top_master": "timer", "scalars": [elapsed, diode], "spectra": [], "images": [image],
                                        "master": {"scalars": [elapsed]}}},
        "devices": {"timer": {"channels": [elapsed], "triggered_devices": [args.detector, "simulation_diode_sampling_controller"]},
                    args.detector: {"channels": [image]},
                    "simulation_diode_sampling_controller": {"channels": [diode]}},
        "channels": {elapsed: {"display_name": "elapsed_time", "dim": 0, "unit": "s"},
                     diode: {"display_name": "diode1", "dim": 0},
                     image: {"display_name": "image", "dim": 2}},
        "plots": [{"kind": "curve-plot", "name": "default-curve-plot", "items": [{"kind": "curve", "x": elapsed, "y": diode}]}],
        "display_extra": {"plotselect": [diode]},
        "dataset_metadata_snapshot": {"Sample_name": args.collection},
    }
    scan = ds.create_scan(identity, info=scan_info)
    saving = {"file_path": file_pattern, "data_path": DATA_PATH, "file_format": "HDF5",
              "file_offset": args.file_offset, "frames_per_file": args.frames_per_file}
    lima = scan.create_stream(LimaStream.make_definition(
        image, dtype, shape, server_url=f"id00/limaccds/{args.detector}", buffer_max_number=16,
        frames_per_acquisition=args.frames_per_acquisition or args.frames, acquisition_offset=0, saving=saving))
    # Where Lima puts each frame: blissdata's own arithmetic (the reader resolves frames the same way).
    placement = LimaClient(data_store=None, request_update_cb=None, **scan._model.data_streams[image].info["lima_info"])
    refs = [placement._file_ref(i) for i in range(args.frames)]
    paths = list(dict.fromkeys(r.file_path for r in refs))
    frames_in = {path: sum(1 for r in refs if r.file_path == path) for path in paths}
    counters = {
        elapsed: scan.create_stream(Stream.make_definition(elapsed, np.float64, info={"unit": "s"})),
        diode: scan.create_stream(Stream.make_definition(diode, np.float64)),
    }
    values = {elapsed: np.arange(args.frames) * 0.1, diode: np.sin(np.arange(args.frames) / 3.0)}
    scan.prepare()
    scan.start()

    files_total = len(paths)
    handle: h5py.File | None = None
    current = None
    paused = False
    written = 0
    while written < args.frames:
        stop = min(written + args.batch, args.frames)
        for i in range(written, stop):
            ref = refs[i]
            if ref.file_path != current:
                if handle is not None:
                    handle.close()
                    handle = None
                if current is not None and paths.index(current) == args.symlink_file:
                    os.remove(current)
                    os.symlink(args.symlink_target, current)
                if current is not None and paths.index(current) == args.not_hdf5_file:
                    with open(current, "w") as text:
                        text.write("not an HDF5 file: must never reach S3 as a Lima file\n")
                current = ref.file_path
                if paths.index(current) != args.missing_file:
                    handle = h5py.File(current, "w")
                    handle.attrs["NX_class"] = "NXroot"
                    handle.create_dataset(DATA_PATH, shape=(frames_in[current], *shape), dtype=dtype)
            if handle is not None:
                handle[DATA_PATH][ref.index] = frame_value(i, shape, dtype)
                handle.flush()
        for name, stream in counters.items():
            chunk = values[name][written:stop]
            if name == diode and args.corrupt_diode:
                # Raw entries (as blissdata writes them), the first one truncated by one byte.
                fields = {"payload": chunk.tobytes()[:-1] if written == 0 else chunk.tobytes()}
                if len(chunk) > 1:
                    fields["len"] = len(chunk)
                ds._redis.xadd(scan._model.data_streams[diode].key(), fields, id=f"{written}-1")
                continue
            stream.send(chunk if len(chunk) > 1 else chunk[0])
        lima.send({"last_index": stop - 1, "last_index_saved": stop - 1})
        lima.join()
        written = stop
        if (args.pause_after_files is not None and not paused
                and len({r.file_path for r in refs[:written]}) > args.pause_after_files):
            # Files [0, K) are complete (a frame of file K is saved): the bridge can upload them.
            paused = True
            sys.stderr.write(f"paused after {args.pause_after_files} files\n")
            sys.stderr.flush()
            while not os.path.exists(args.resume_flag):
                time.sleep(0.05)
        if args.sleep:
            time.sleep(args.sleep)
    if handle is not None:
        handle.close()
    for name, stream in counters.items():
        if name == diode and args.corrupt_diode:
            ds._redis.xadd(scan._model.data_streams[diode].key(), {"id": args.frames}, id="18446744073709551615-18446744073709551615")
            scan._writer_streams.pop(name, None)
            continue
        stream.seal()
    lima.seal()
    scan.stop()
    info = scan.info
    info["end_time"] = now_iso()
    info["end_reason"] = "SUCCESS"
    scan.info = info
    scan.close()
    json.dump({
        "scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "frames": args.frames, "files": files_total,
        "file_pattern": file_pattern, "data_path": DATA_PATH, "stream": image, "shape": list(shape), "dtype": dtype.str,
        "files_written": paths,
        "references": [[r.file_path, r.index] for r in ds.load_scan(scan.key).streams[image].get_references(slice(0, args.frames))],
        # What a blissdata reader finds in Redis.
        "published_streams": sorted(ds._scan_model.get(scan.key.split(":")[-1]).data_streams.keys()),
    }, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
