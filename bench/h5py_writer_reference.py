"""The h5py reference of bench/writer-throughput.ts: executes the same NeXus plan (groups, string and
number datasets, attributes, links, channel datasets with the same dtype, shape, maxshape and chunks)
and writes the same values in the same slices (staged chunks of `chunkPoints`, cut on `sliceRows`
boundaries as src/core/nexus/writers/channel-writer.ts rowSlices does). Prints one JSON line.

    python bench/h5py_writer_reference.py <plan.json> <out.h5>
"""
import json
import resource
import sys
import time

import h5py
import numpy as np

DTYPES = {("float", 8): "<f8", ("float", 4): "<f4", ("uint", 4): "<u4", ("uint", 2): "<u2", ("int", 4): "<i4"}


def attrs(obj, values):
    for name, value in values.items():
        obj.attrs[name] = value


def chunk_buffer(channel, points):
    size = int(np.prod(channel["pointShape"], dtype=np.int64))
    n = points * size
    if channel["type"]["kind"] == "float":
        values = np.arange(n, dtype="<f8") * 0.001
    else:
        values = (np.arange(n, dtype=np.int64) % 65536).astype("<u4")
    return values.reshape((points, *channel["pointShape"]))


def main(plan_path, out_path):
    with open(plan_path) as f:
        plan = json.load(f)
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    with h5py.File(out_path, "w") as h5:
        attrs(h5, plan["rootAttrs"])
        for node in plan["nodes"]:
            kind, path = node["kind"], node["path"]
            if kind == "group":
                attrs(h5.create_group(path), node["attrs"])
            elif kind == "text":
                attrs(h5.create_dataset(path, data=node["value"], dtype=h5py.string_dtype()), node["attrs"])
            elif kind == "number":
                attrs(h5.create_dataset(path, data=node["value"], dtype=node["dtype"]), node["attrs"])
            elif kind == "link":
                h5[path] = h5py.SoftLink(node["target"])
            elif kind == "channel":
                shape = tuple(node["shape"])
                point = tuple(node["pointShape"])
                ds = h5.create_dataset(
                    path, shape=shape, maxshape=shape, dtype=DTYPES[(node["type"]["kind"], node["type"]["size"])],
                    chunks=(node["chunkRows"], *[max(d, 1) for d in point]),
                    **({"compression": "gzip", "compression_opts": node["gzip"]} if node.get("gzip") else {}))
                attrs(ds, node["attrs"])
        for channel in plan["channels"]:
            ds = h5[channel["path"]]
            per = plan["chunkPoints"][channel["channel"]]
            buffer = chunk_buffer(channel, per)
            rows = channel["sliceRows"]
            for s in range(0, plan["points"], per):
                e = min(plan["points"], s + per)
                p = s
                while p < e:
                    q = min(e, (p // rows + 1) * rows)
                    ds[p:q] = buffer[p - s:q - s]
                    p = q
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    import os
    size = os.path.getsize(out_path)
    print(json.dumps({
        "seconds": seconds, "file_bytes": size,
        # Where the time went: in this process (HDF5, numpy) or in the kernel (the writes to the page cache).
        "cpu_user_seconds": round(r1.ru_utime - r0.ru_utime, 3), "cpu_system_seconds": round(r1.ru_stime - r0.ru_stime, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
