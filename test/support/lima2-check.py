#!/usr/bin/env python
"""Reads a Lima2 detector's frames back through a scan file's external link, with h5py, and compares
every frame with what test/support/lima2-publish.py wrote (its frame_value).

    lima2-check.py SCAN_FILE --entry 1.1 --name frame --frames 14 --shape 1 5 7 --dtype <u2

`instrument/<name>/data` must be a relative external link to the Lima2 master file's virtual dataset,
which resolves the frames in the receiver files beside it. Run it with a working directory other than
the scan file's folder. Prints a JSON summary (the master file and the receiver files the virtual
dataset read from, and for each link of `receiver_files/` the scan frames the master's virtual dataset
maps to that receiver file, each compared with what was written); exits 1 with the reason on any mismatch.
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
        # The scan frames of each receiver file, as the master's virtual dataset maps them (its selections).
        frames_of = {}
        for m in data.virtual_sources():
            if m.vspace.get_select_type() == h5py.h5s.SEL_HYPERSLABS:
                blocks = m.vspace.get_select_hyper_blocklist()
                frames = sorted({i for b in blocks for i in range(int(b[0][0]), int(b[1][0]) + 1)})
            else:
                frames = sorted({int(p[0]) for p in m.vspace.get_select_elem_pointlist()})
            frames_of[os.path.basename(m.file_name)] = frames
        # receiver_files/: one relative external link per receiver file, its frames as the master maps them.
        receivers = {}
        if "receiver_files" in group:
            rgroup = group["receiver_files"]
            names = list(rgroup.keys())
            order = sorted(names, key=lambda n: (int(n.split("_")[-2]), int(n.split("_")[-1])))
            attrs = [[str(x.decode() if isinstance(x, bytes) else x) for x in rgroup.attrs[a]] for a in ("receiver", "file_index")]
            if attrs != [[n.split("_")[-2] for n in order], [str(int(n.split("_")[-1])) for n in order]]:
                fail(f"receiver/file_index attributes {attrs} do not describe the links {order}")
            for name in order:
                rlink = rgroup.get(name, getlink=True)
                if not isinstance(rlink, h5py.ExternalLink) or os.path.isabs(rlink.filename):
                    fail(f"receiver_files/{name} is not a relative external link")
                frames = frames_of.get(os.path.basename(rlink.filename))
                if frames is None:
                    fail(f"receiver_files/{name} links {rlink.filename}, which the master file does not read")
                dataset = rgroup[name]
                if dataset.shape[0] != len(frames):
                    fail(f"receiver_files/{name} holds {dataset.shape[0]} frames, the master maps {len(frames)}")
                for j, i in enumerate(frames):
                    if not np.array_equal(dataset[j], lima2_publish.frame_value(i, shape, dtype)):
                        fail(f"receiver_files/{name} frame {j} is not scan frame {i}")
                receivers[name] = frames
        missing = group.attrs.get("missing_points")
    json.dump({"ok": True, "checked": checked, "master": link.filename, "data_path": link.path, "receiver_files": sources,
               "receiver_links": receivers, "missing_points": missing.decode() if isinstance(missing, bytes) else missing}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
