#!/usr/bin/env python
"""Reads a Lima detector's frames back through a scan file's external links, with h5py, and compares
every frame with what test/support/lima-publish.py wrote (its frame_value).

    lima-check.py SCAN_FILE --entry 1.1 --name image --frames 25 --shape 6 8 --dtype <u2

Run it with a working directory other than the scan file's folder: the relative links must resolve
from the scan file's own folder. Prints a JSON summary; exits 1 with the reason on any mismatch.
"""
import argparse
import importlib.util
import json
import os
import sys

import h5py
import numpy as np

spec = importlib.util.spec_from_file_location("lima_publish", os.path.join(os.path.dirname(__file__), "lima-publish.py"))
lima_publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lima_publish)


def fail(message: str) -> None:
    sys.stdout.write(json.dumps({"ok": False, "error": message}) + "\n")
    sys.exit(1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("scan_file")
    p.add_argument("--entry", default="1.1")
    p.add_argument("--name", default="image")
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--shape", type=int, nargs=2, required=True)
    p.add_argument("--dtype", required=True)
    args = p.parse_args()
    dtype = np.dtype(args.dtype)
    shape = tuple(args.shape)
    with h5py.File(args.scan_file, "r") as f:
        group = f[f"{args.entry}/instrument/{args.name}"]
        parts = []  # (start, stop, link filename, dataset)
        if "data" in group:
            link = group.get("data", getlink=True)
            if not isinstance(link, h5py.ExternalLink):
                fail(f"data is a {type(link).__name__}, not an external link")
            parts.append((0, args.frames, link.filename, group["data"]))
            measured = f[f"{args.entry}/measurement/{args.name}"]
            if measured.shape != group["data"].shape:
                fail("measurement link does not resolve to the frames")
        else:
            files = group["data_files"]
            ranges = [r.decode() if isinstance(r, bytes) else str(r) for r in files.attrs["frame_ranges"]]
            names = sorted(files.keys())
            if len(names) != len(ranges):
                fail(f"{len(names)} links but {len(ranges)} frame ranges")
            for name, text in zip(names, ranges):
                start, stop = (int(x) for x in text.strip("[)").split(","))
                link = files.get(name, getlink=True)
                if not isinstance(link, h5py.ExternalLink):
                    fail(f"data_files/{name} is a {type(link).__name__}, not an external link")
                if os.path.isabs(link.filename):
                    fail(f"data_files/{name} links an absolute path {link.filename}")
                parts.append((start, stop, link.filename, files[name]))
            if set(f[f"{args.entry}/measurement/{args.name}"].keys()) != set(names):
                fail("measurement link does not resolve to data_files")
        checked = 0
        for start, stop, _filename, dataset in parts:
            if dataset.dtype != dtype or tuple(dataset.shape[1:]) != shape:
                fail(f"frames [{start}, {stop}) are {dataset.dtype} {dataset.shape}, expected {dtype} (n, {shape})")
            if dataset.shape[0] < stop - start:
                fail(f"frames [{start}, {stop}): the linked dataset holds {dataset.shape[0]} frames")
            for i in range(start, stop):
                if not np.array_equal(dataset[i - start], lima_publish.frame_value(i, shape, dtype)):
                    fail(f"frame {i} differs from what was written")
                checked += 1
        missing = group.attrs.get("missing_points")
    json.dump({"ok": True, "checked": checked, "files": [p[2] for p in parts],
               "missing_points": missing.decode() if isinstance(missing, bytes) else missing}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
