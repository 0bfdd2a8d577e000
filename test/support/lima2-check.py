#!/usr/bin/env python
"""Reads a Lima2 detector's frames back through a scan file's external link, with h5py, and compares
every frame with what test/support/lima2-publish.py wrote (its frame_value).

    lima2-check.py SCAN_FILE --entry 1.1 --name frame --frames 14 --shape 1 5 7 --dtype <u2

`instrument/<name>/data` must be a relative external link to the Lima2 master file's virtual dataset,
which resolves the frames in the receiver files beside it. Run it with a working directory other than
the scan file's folder. Prints a JSON summary (the master file and the receiver files the virtual
dataset read from); exits 1 with the reason on any mismatch.
"""
import argparse
import importlib.util
import json
import os
import sys

import h5py
import numpy as np

spec = importlib.util.spec_from_file_location("lima2_publish", os.path.join(os.path.dirname(__file__), "lima2-publish.py"))
lima2_publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lima2_publish)


def fail(message: str) -> None:
    sys.stdout.write(json.dumps({"ok": False, "error": message}) + "\n")
    sys.exit(1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("scan_file")
    p.add_argument("--entry", default="1.1")
    p.add_argument("--name", default="frame")
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--shape", type=int, nargs=3, required=True)
    p.add_argument("--dtype", required=True)
    args = p.parse_args()
    dtype = np.dtype(args.dtype)
    shape = tuple(args.shape)
    with h5py.File(args.scan_file, "r") as f:
        group = f[f"{args.entry}/instrument/{args.name}"]
        link = group.get("data", getlink=True)
        if not isinstance(link, h5py.ExternalLink):
            fail(f"data is a {type(link).__name__}, not an external link")
        if os.path.isabs(link.filename):
            fail(f"data links an absolute path {link.filename}")
        data = group["data"]
        if not data.is_virtual:
            fail("data does not resolve to the Lima2 master file's virtual dataset")
        if data.shape != (args.frames, *shape) or data.dtype != dtype:
            fail(f"data is {data.dtype} {data.shape}, expected {dtype} {(args.frames, *shape)}")
        if f[f"{args.entry}/measurement/{args.name}"].shape != data.shape:
            fail("measurement link does not resolve to the frames")
        sources = sorted({s.file_name for s in data.virtual_sources()})
        folder = os.path.join(os.path.dirname(args.scan_file), os.path.dirname(link.filename))
        absent = [s for s in sources if not os.path.exists(os.path.join(folder, s))]
        if absent:
            fail(f"receiver files named by the master file are not beside it: {absent}")
        checked = 0
        for i in range(args.frames):
            if not np.array_equal(data[i], lima2_publish.frame_value(i, shape, dtype)):
                fail(f"frame {i} differs from what was written")
            checked += 1
        missing = group.attrs.get("missing_points")
    json.dump({"ok": True, "checked": checked, "master": link.filename, "data_path": link.path, "receiver_files": sources,
               "missing_points": missing.decode() if isinstance(missing, bytes) else missing}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
