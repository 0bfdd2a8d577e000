"""Judges an archived scan file with h5py against the values blissdata published.

usage: judge_scan_file.py FILE.h5 --values VALUES.npz --scan-number N [--title T] [--sample-name S] [--end-reason R]

Prints a JSON report {"ok": bool, "problems": [...], "channels": {...}} and exits 1 when a
problem was found. Values are compared bit for bit (raw bytes, dtype and shape), not approximately.
The npz holds one array per channel, ':' in channel names written as '__'.
"""
import argparse
import json
import sys

import h5py
import numpy as np


def as_str(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        return as_str(value[()])
    return str(value)


def nx_class(node):
    return as_str(node.attrs.get("NX_class", ""))


def judge(args):
    problems = []
    channels = {}
    expected = {k.replace("__", ":"): v for k, v in np.load(args.values).items()}
    with h5py.File(args.file, "r") as f:
        entry_name = f"{args.scan_number}.1"
        if nx_class(f) != "NXroot":
            problems.append("root NX_class is not NXroot")
        if as_str(f.attrs.get("default", "")) != entry_name:
            problems.append(f"root @default is {f.attrs.get('default')!r}, expected {entry_name!r}")
        for attr in ("file_name", "file_time", "creator"):
            if attr not in f.attrs:
                problems.append(f"root has no @{attr}")
        if entry_name not in f:
            return problems + [f"no entry {entry_name}"], channels
        entry = f[entry_name]
        if nx_class(entry) != "NXentry":
            problems.append("entry NX_class is not NXentry")
        for name in ("title", "start_time", "end_time", "end_reason"):
            if name not in entry:
                problems.append(f"entry has no {name}")
        for name, want in (("title", args.title), ("end_reason", args.end_reason)):
            if want is not None and name in entry and as_str(entry[name][()]) != want:
                problems.append(f"{name} is {as_str(entry[name][()])!r}, expected {want!r}")
        if "instrument" not in entry or nx_class(entry["instrument"]) != "NXinstrument":
            problems.append("entry has no NXinstrument 'instrument'")
        measurement = entry.get("measurement")
        if measurement is None:
            problems.append("entry has no measurement group")
        for channel, values in expected.items():
            short = channel.split(":")[-1]
            if measurement is None or short not in measurement:
                problems.append(f"measurement/{short} missing for channel {channel}")
                continue
            data = measurement[short][()]
            same_dtype = data.dtype == values.dtype
            same_shape = data.shape == values.shape
            same_bytes = same_dtype and same_shape and data.tobytes() == values.tobytes()
            channels[channel] = {"dtype": str(data.dtype), "shape": list(data.shape), "identical": bool(same_bytes)}
            if not same_dtype:
                problems.append(f"{channel}: dtype {data.dtype} in file, {values.dtype} published")
            elif not same_shape:
                problems.append(f"{channel}: shape {data.shape} in file, {values.shape} published")
            elif not same_bytes:
                diff = int(np.count_nonzero(data.view(np.uint8) != values.view(np.uint8)))
                problems.append(f"{channel}: {diff} bytes differ from the published values")
        default = as_str(entry.attrs.get("default", ""))
        if not default or default not in entry:
            problems.append(f"entry @default {default!r} does not name a group in the entry")
        else:
            plot = entry[default]
            if nx_class(plot) != "NXdata":
                problems.append(f"{default} is not NXdata")
            signal = as_str(plot.attrs.get("signal", ""))
            if signal not in plot:
                problems.append(f"{default}@signal {signal!r} is not a dataset of the plot")
            axes = plot.attrs.get("axes")
            for axis in ([] if axes is None else np.atleast_1d(axes)):
                axis = as_str(axis)
                if axis != "." and axis not in plot:
                    problems.append(f"{default}@axes names {axis!r}, which is not in the plot")
        if args.sample_name is not None:
            sample = entry.get("sample")
            if sample is None or nx_class(sample) != "NXsample":
                problems.append("entry has no NXsample 'sample'")
            elif "name" not in sample or as_str(sample["name"][()]) != args.sample_name:
                problems.append(f"sample/name is not {args.sample_name!r}")
    return problems, channels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--values", required=True)
    p.add_argument("--scan-number", type=int, required=True)
    p.add_argument("--title")
    p.add_argument("--sample-name")
    p.add_argument("--end-reason")
    args = p.parse_args(argv)
    problems, channels = judge(args)
    print(json.dumps({"ok": not problems, "problems": problems, "channels": channels}))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
