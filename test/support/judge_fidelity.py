"""Reads an archived scan file with h5py (and its default plot with silx) and prints what a reader sees.

usage: judge_fidelity.py FILE.h5 --entry N.1 [--values VALUES.npz]

Prints one JSON object; the test decides what must hold. Facts:
- channels: every channel of the npz (':' written '__'): present in measurement/, dtype, shape, and
  whether the published values are there bit for bit (points not published compared apart: see trimmed);
- refused: the NXnote notes/refused_channels (NX_class, channel and reason rows, JSON data);
- plot: silx's verdict on the default NXdata (silx.io.nxdata.is_valid_nxdata, NXdata(...)): signal and axes
  shapes, and the plot group's attributes;
- sample, machine, technique: the groups the ICAT snapshot and scan_meta_categories filled;
- trimmed: per channel with a `_FillValue`: the fill value, the rows that hold it, the missing_points dataset.
"""
import argparse
import json
import math
import sys

import h5py
import numpy as np
from silx.io import nxdata as silx_nxdata


def text(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return text(value[()])
        return [text(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        v = float(value)
        return None if math.isnan(v) else v
    return value


def group_facts(group):
    out = {"NX_class": text(group.attrs.get("NX_class", "")), "datasets": {}}
    for name, node in group.items():
        if isinstance(node, h5py.Dataset):
            value = node[()]
            out["datasets"][name] = {
                "dtype": str(node.dtype) if node.dtype.kind != "O" else "str",
                "value": text(value) if node.dtype.kind in "OSU" or node.shape == () else text(np.asarray(value)),
                "attrs": {k: text(v) for k, v in node.attrs.items()},
            }
        else:
            out.setdefault("groups", {})[name] = group_facts(node)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--entry", required=True)
    p.add_argument("--values")
    args = p.parse_args()
    report = {"channels": {}, "trimmed": {}}
    with h5py.File(args.file, "r") as f:
        entry = f[args.entry]
        measurement = entry["measurement"]
        if args.values:
            for key, values in np.load(args.values).items():
                channel = key.replace("__", ":")
                short = channel.split(":")[-1]
                if short not in measurement:
                    report["channels"][channel] = {"present": False}
                    continue
                d = measurement[short]
                data = d[()]
                facts = {"present": True, "dtype": str(d.dtype), "shape": list(d.shape),
                         "published_points": int(values.shape[0])}
                if "_FillValue" in d.attrs:
                    fill = d.attrs["_FillValue"]
                    is_fill = np.isnan(data) if data.dtype.kind == "f" else data == fill
                    rows = [int(i) for i in np.nonzero(is_fill.reshape(len(data), -1).all(axis=1))[0]]
                    # measurement/<name> is a soft link: the dataset's own group is the link target's parent.
                    link = measurement.get(short, getlink=True)
                    target = link.path if isinstance(link, h5py.SoftLink) else d.name
                    group = f[target.rsplit("/", 1)[0]]
                    ranges = group["missing_points"][()] if "missing_points" in group else None
                    report["trimmed"][channel] = {
                        "fill_value": text(fill), "fill_dtype": str(np.asarray(fill).dtype), "fill_rows": rows,
                        "missing_points_attr": text(d.attrs.get("missing_points")),
                        "missing_points": ranges.tolist() if ranges is not None else None,
                        "missing_points_dtype": str(ranges.dtype) if ranges is not None else None,
                    }
                    keep = np.ones(len(data), dtype=bool)
                    keep[rows] = False
                    # The trimmed points are not in the published values the npz holds as a reader sees them:
                    # compare the points that were published and survived.
                    facts["identical_outside_fill"] = bool(np.array_equal(data[keep], values[keep]))
                else:
                    facts["identical"] = data.dtype == values.dtype and data.shape == values.shape and data.tobytes() == values.tobytes()
                if values.dtype == np.bool_:
                    facts["same_bytes"] = data.shape == values.shape and data.tobytes() == values.tobytes()
                    facts["as_bool_equal"] = bool(np.array_equal(data.astype(bool), values))
                    facts["attrs"] = {k: text(v) for k, v in d.attrs.items()}
                report["channels"][channel] = facts
        notes = entry.get("notes")
        if notes is not None and "refused_channels" in notes:
            r = notes["refused_channels"]
            report["refused"] = {
                "NX_class": text(r.attrs.get("NX_class")), "channel": text(r["channel"][()]), "reason": text(r["reason"][()]),
                "data": json.loads(text(r["data"][()])), "type": text(r["type"][()]),
            }
        default = text(entry.attrs.get("default", ""))
        if default and default in entry:
            plot = entry[default]
            valid = silx_nxdata.is_valid_nxdata(plot)
            facts = {"name": default, "silx_valid": bool(valid), "attrs": {k: text(v) for k, v in plot.attrs.items()}}
            if valid:
                nx = silx_nxdata.NXdata(plot)
                facts["signal_shape"] = list(nx.signal.shape)
                facts["axes_shapes"] = [list(a.shape) if a is not None else None for a in nx.axes]
                facts["is_curve"] = bool(nx.is_curve)
            else:
                try:
                    facts["silx_issues"] = [str(i) for i in silx_nxdata.NXdata(plot).issues]
                except Exception as error:  # silx refuses the group outright
                    facts["silx_issues"] = [repr(error)]
            report["plot"] = facts
        if "sample" in entry:
            report["sample"] = group_facts(entry["sample"])
        instrument = entry["instrument"]
        if "machine" in instrument:
            report["machine"] = group_facts(instrument["machine"])
        if "technique" in entry:
            report["technique"] = group_facts(entry["technique"])
        report["instrument"] = sorted(instrument.keys())
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
