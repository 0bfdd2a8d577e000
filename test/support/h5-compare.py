"""Compares our scan file with the reference writer's file for the same scan, with h5py.

usage: h5-compare.py OURS.h5 REFERENCE.h5

Prints a JSON report {"differences": [...]} (one sentence per difference, entry names written
`N.1` so that reports of different scans compare). Compared: every object's kind (group,
dataset, soft link and its target), NX_class, dataset dtype (strings as "str"), shape and value
(bit for bit; the linear grid axes of a 2D plot to 1e-9 relative), the attributes of NXdata groups
(signal, axes, interpretation) and the datasets' units. Values that say when a writer ran (root
file_time, writer/date) and who wrote the file (root creator, HDF5_Version, file_name) are not
compared; their absence is.
"""
import json
import re
import sys

import h5py
import numpy as np

NOT_COMPARED_ROOT = {"file_name", "file_time", "creator", "HDF5_Version"}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
WRITER_TIME = re.compile(r"^/N\.1/writer/date$")


def norm(path):
    return re.sub(r"^/\d+\.1", "/N.1", path)


def as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [as_str(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [as_str(x) for x in v]
    return v if isinstance(v, str) else v.item() if hasattr(v, "item") else v


def describe(f):
    objects = {}

    def visit(name, _obj=None):
        path = "/" + name
        link = f.get(path, getlink=True)
        if isinstance(link, h5py.SoftLink):
            objects[norm(path)] = {"kind": "link", "target": norm(link.path)}
            return
        obj = f[path]
        if isinstance(obj, h5py.Group):
            objects[norm(path)] = {"kind": "group", "attrs": {k: as_str(v) for k, v in obj.attrs.items()}}
        else:
            objects[norm(path)] = {"kind": "dataset", "obj": obj, "attrs": {k: as_str(v) for k, v in obj.attrs.items()}}

    def walk(group, prefix):
        for name in group:
            path = f"{prefix}/{name}" if prefix else name
            visit(path)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.HardLink) and isinstance(group[name], h5py.Group):
                walk(group[name], path)

    walk(f, "")
    return objects


def dtype_of(d):
    if h5py.check_string_dtype(d.dtype) is not None or d.dtype.kind in "OSU":
        return "str"
    return d.dtype.str


def compare(ours_path, ref_path):
    diffs = []
    with h5py.File(ours_path, "r") as ours_file, h5py.File(ref_path, "r") as ref_file:
        for attr in sorted(set(ref_file.attrs) - set(ours_file.attrs)):
            diffs.append(f"/: root attribute @{attr} missing")
        for attr in sorted(set(ours_file.attrs) - set(ref_file.attrs)):
            diffs.append(f"/: root attribute @{attr} extra")
        for attr in sorted((set(ours_file.attrs) & set(ref_file.attrs)) - NOT_COMPARED_ROOT):
            if norm(str(as_str(ours_file.attrs[attr]))) != norm(str(as_str(ref_file.attrs[attr]))):
                diffs.append(f"/: root attribute @{attr} differs")
        ours, ref = describe(ours_file), describe(ref_file)
        for path in sorted(set(ref) - set(ours)):
            diffs.append(f"{path}: missing ({ref[path]['kind']})")
        for path in sorted(set(ours) - set(ref)):
            diffs.append(f"{path}: extra ({ours[path]['kind']})")
        for path in sorted(set(ours) & set(ref)):
            a, b = ours[path], ref[path]
            if a["kind"] != b["kind"]:
                diffs.append(f"{path}: {a['kind']} here, {b['kind']} in the reference")
                continue
            if a["kind"] == "link":
                if a["target"] != b["target"]:
                    diffs.append(f"{path}: links to {a['target']}, the reference to {b['target']}")
                continue
            keys = {"NX_class", "signal", "axes", "interpretation", "units", "default"}
            for k in sorted(keys & (set(a["attrs"]) | set(b["attrs"]))):
                if a["attrs"].get(k) != b["attrs"].get(k):
                    diffs.append(f"{path}: @{k} is {a['attrs'].get(k)!r}, the reference {b['attrs'].get(k)!r}")
            if a["kind"] == "group":
                continue
            da, db = a["obj"], b["obj"]
            if db.is_virtual and not da.is_virtual:
                diffs.append(f"{path}: a copy here, a virtual dataset in the reference")
            if dtype_of(da) != dtype_of(db):
                diffs.append(f"{path}: dtype {dtype_of(da)}, the reference {dtype_of(db)}")
                continue
            if da.shape != db.shape:
                diffs.append(f"{path}: shape {da.shape}, the reference {db.shape}")
                continue
            if WRITER_TIME.match(path):
                continue
            va, vb = da[()], db[()]
            if dtype_of(da) == "str":
                if as_str(va) != as_str(vb) and ISO_TIME.match(str(as_str(va))) and ISO_TIME.match(str(as_str(vb))):
                    diffs.append(f"{path}: another time than the reference")
                elif as_str(va) != as_str(vb):
                    diffs.append(f"{path}: value {as_str(va)!r}, the reference {as_str(vb)!r}")
            elif np.asarray(va).tobytes() != np.asarray(vb).tobytes():
                grid_axis = re.match(r"^/N\.1/plotselect/", path) and np.asarray(va).ndim == 1 and da.dtype.kind == "f"
                if grid_axis and np.allclose(va, vb, rtol=1e-9, atol=1e-12, equal_nan=True):
                    continue
                diffs.append(f"{path}: values differ")
    return diffs


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps({"differences": compare(argv[1], argv[2])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
