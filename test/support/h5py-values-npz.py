"""Writes the npz of published channel values that test/support/judge_scan_file.py expects.

usage: h5py-values-npz.py MANIFEST.json OUT.npz
MANIFEST: {channel: {"file": raw little-endian C-order bytes, "dtype": numpy dtype, "shape": [...]}}
"""
import json
import sys

import numpy as np


def main(manifest_path, out_path):
    with open(manifest_path) as fh:
        manifest = json.load(fh)
    arrays = {}
    for channel, spec in manifest.items():
        data = np.fromfile(spec["file"], dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])
        arrays[channel.replace(":", "__")] = data
    np.savez(out_path, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
