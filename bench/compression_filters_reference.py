"""The Python half of bench/compression-filters.ts.

    python bench/compression_filters_reference.py export <values.npz> <out-dir>
        every channel of a published scan (publish_scan.py --dump-values) as <out-dir>/<n>.bin
        (C order, little-endian) plus <out-dir>/channels.json (name, dtype, shape)
    python bench/compression_filters_reference.py write <values.npz> <out.h5> <filter>
        the same channels written by h5py with <filter> (none, gzip:<level>, shuffle-gzip:<level>,
        bitshuffle-lz4, zstd:<level>, blosc-zstd:<level>, via hdf5plugin for the last three),
        chunks of ~1 MiB of whole points; prints {"seconds", "file_bytes"}
    python bench/compression_filters_reference.py read <file.h5> <reader>
        reads every dataset back with <reader>: h5py (plain: no hdf5plugin imported, no
        HDF5_PLUGIN_PATH), h5py+hdf5plugin, or silx (silx.io.open); prints {"ok", "error", "sha256"}
"""
import hashlib
import json
import os
import sys
import time

import numpy as np


def channels(npz_path):
    values = np.load(npz_path)
    return {name: np.ascontiguousarray(values[name]) for name in sorted(values.files)}


def chunk_rows(array, max_bytes=1024 * 1024):
    row = max(1, array[0:1].nbytes)
    return max(1, min(len(array), max_bytes // row))


def filter_kwargs(spec):
    name, _, level = spec.partition(":")
    if name == "none":
        return {}
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": int(level or 4)}
    if name == "shuffle-gzip":
        return {"compression": "gzip", "compression_opts": int(level or 4), "shuffle": True}
    import hdf5plugin
    if name == "bitshuffle-lz4":
        return dict(hdf5plugin.Bitshuffle(cname="lz4"))
    if name == "zstd":
        return dict(hdf5plugin.Zstd(clevel=int(level or 3)))
    if name == "blosc-zstd":
        return dict(hdf5plugin.Blosc(cname="zstd", clevel=int(level or 5), shuffle=hdf5plugin.Blosc.SHUFFLE))
    raise SystemExit(f"unknown filter {spec}")


def main(argv):
    command = argv[0]
    if command == "export":
        out = argv[2]
        manifest = []
        for i, (name, array) in enumerate(channels(argv[1]).items()):
            if array.dtype.kind not in "fiu" or array.dtype.itemsize == 1:
                continue
            array.astype(array.dtype.newbyteorder("<")).tofile(os.path.join(out, f"{i}.bin"))
            manifest.append({"name": name, "file": f"{i}.bin", "dtype": array.dtype.str, "shape": list(array.shape)})
        with open(os.path.join(out, "channels.json"), "w") as f:
            json.dump(manifest, f)
        return
    import h5py
    if command == "write":
        data = channels(argv[1])
        kwargs = filter_kwargs(argv[3])
        t0 = time.perf_counter()
        with h5py.File(argv[2], "w") as h5:
            for name, array in data.items():
                if array.dtype.kind not in "fiu" or array.dtype.itemsize == 1:
                    continue
                h5.create_dataset(name.replace(":", "_"), data=array, chunks=(chunk_rows(array), *array.shape[1:]), **kwargs)
        print(json.dumps({"seconds": time.perf_counter() - t0, "file_bytes": os.path.getsize(argv[2])}))
        return
    if command == "read":
        path, reader = argv[1], argv[2]
        digest = hashlib.sha256()
        try:
            if reader == "silx":
                import silx.io
                opened = silx.io.open(path)
            else:
                if reader == "h5py+hdf5plugin":
                    import hdf5plugin  # noqa: F401  (registers the filters)
                opened = h5py.File(path, "r")
            with opened as h5:
                names = []
                h5.visit(lambda n: names.append(n) if isinstance(h5[n], h5py.Dataset) or hasattr(h5[n], "shape") else None)
                for n in sorted(names):
                    digest.update(np.ascontiguousarray(h5[n][()]).tobytes())
            print(json.dumps({"ok": True, "sha256": digest.hexdigest()}))
        except Exception as error:  # the reader's own words are the finding
            print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}))
        return
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "read" and sys.argv[3] == "h5py":
        os.environ.pop("HDF5_PLUGIN_PATH", None)
    main(sys.argv[1:])
