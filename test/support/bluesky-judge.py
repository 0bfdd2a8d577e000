#!/usr/bin/env python
"""Judges the archived scan file of a Bluesky run with h5py against what the RunEngine emitted.

    bluesky-judge.py FILE.h5 EXPECTED.json RUN_UID

EXPECTED.json is the output of bluesky-run-plans.py. Prints {"ok", "problems", "channels"}: every
channel the RunEngine emitted must be a dataset of the file (found by its bluesky_stream and
bluesky_key attributes) holding bit-for-bit the same values (NaN where NaN was emitted).
"""
from __future__ import annotations

import json
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bluesky-publisher"))
from beamline_archive_bluesky import decode_document  # noqa: E402


def main() -> int:
    path, expected_path, run_uid = sys.argv[1:4]
    with open(expected_path, "rb") as f:
        expected = decode_document(f.read())
    run = next(r for r in expected["runs"] if r["uid"] == run_uid)
    problems: list = []
    channels: dict = {}
    with h5py.File(path, "r") as h5:
        entry_name = f"{run['scan_id']}.1"
        if entry_name not in h5:
            problems.append(f"no entry {entry_name}: {list(h5)}")
            print(json.dumps({"ok": False, "problems": problems, "channels": channels}))
            return 0
        entry = h5[entry_name]
        if entry.attrs.get("NX_class") != "NXentry":
            problems.append("entry is not an NXentry")
        found = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and "bluesky_stream" in obj.attrs:
                found[f"{obj.attrs['bluesky_stream']}:{obj.attrs['bluesky_key']}"] = obj

        entry.visititems(visit)
        for channel, values in run["channels"].items():
            ds = found.get(channel)
            if ds is None:
                problems.append(f"channel {channel} is not in the file")
                continue
            if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype) is not None:
                # A string key: one JSON text per point.
                texts = ds.asstr()[()].tolist()
                identical = [json.loads(t) for t in texts] == values and ds.attrs.get("content_type") == "application/json"
                channels[channel] = {"identical": identical, "dtype": "json", "points": len(texts), "path": ds.name}
                if not identical:
                    problems.append(f"{channel}: file {texts[:3]} … emitted {values[:3]} …")
                continue
            want = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
            got = ds[()]
            same_shape = got.shape == want.shape
            if got.dtype.kind == "f" and got.dtype.itemsize == 8:
                nan = np.isnan(want)
                identical = same_shape and bool(np.array_equal(np.isnan(got), nan)) and bool(
                    np.array_equal(got[~nan].view(np.uint64), want[~nan].view(np.uint64)))
            else:
                identical = same_shape and bool(np.array_equal(got.astype(np.float64), want))
            channels[channel] = {"identical": identical, "dtype": str(got.dtype), "points": int(got.shape[0]), "path": ds.name}
            if not identical:
                problems.append(f"{channel}: file {got[:5].tolist()} … emitted {want[:5].tolist()} …")
        extra = sorted(set(found) - set(run["channels"]))
        for channel in extra:
            problems.append(f"file has channel {channel} the RunEngine did not emit")
        plot = entry.get("plotselect")
        summary = {
            "entry": entry_name,
            "title": entry["title"][()].decode() if "title" in entry else None,
            "end_reason": entry["end_reason"][()].decode() if "end_reason" in entry else None,
            "default": entry.attrs.get("default"),
            "plot": {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in plot.attrs.items()} if plot is not None else None,
            "plot_shape": list(plot[plot.attrs["signal"]].shape) if plot is not None else None,
            "instrument": {k: v.attrs.get("NX_class") for k, v in entry["instrument"].items()},
            "measurement": sorted(entry["measurement"]),
            "sample": {k: v[()].decode() for k, v in entry["sample"].items()} if "sample" in entry else {},
            "start_doc": json.loads(entry["bluesky_start/data"][()])["uid"] if "bluesky_start" in entry else None,
        }
    print(json.dumps({"ok": not problems, "problems": problems, "channels": channels, "file": summary}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
