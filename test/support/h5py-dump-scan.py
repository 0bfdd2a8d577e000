"""Dumps an HDF5 scan file as JSON, read with h5py (the judge is not the code that wrote it).

usage: h5py-dump-scan.py FILE.h5

{"attrs": {path: {name: value}}, "datasets": {path: {dtype, shape, sha256 | value}},
 "links": {path: soft-link target}, "is_str": {path: bool}}
Numeric datasets are summarised by the sha256 of their raw C-order bytes (compare bit for bit);
string datasets by their value read with .asstr(), and whether h5py sees a UTF-8 string type.
"""
import hashlib
import json
import sys

import h5py
import numpy as np


def plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main(path):
    out = {"attrs": {}, "datasets": {}, "links": {}, "is_str": {}}
    with h5py.File(path, "r") as f:
        out["attrs"]["/"] = {k: plain(v) for k, v in f.attrs.items()}

        def visit(name, link):
            full = "/" + name
            if isinstance(link, h5py.SoftLink):
                out["links"][full] = link.path
                return
            obj = f[name]
            out["attrs"][full] = {k: plain(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                info = h5py.check_string_dtype(obj.dtype)
                if info is not None:
                    out["datasets"][full] = {"dtype": "str", "shape": list(obj.shape), "value": obj.asstr()[()]}
                    out["is_str"][full] = info.encoding == "utf-8" and info.length is None
                else:
                    data = obj[()]
                    out["datasets"][full] = {
                        "dtype": data.dtype.str, "shape": list(data.shape),
                        "sha256": hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest(),
                    }

        f.visititems_links(visit)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
