"""Byte locations of every dataset of an HDF5 file as h5py sees them (the judge of the file index).

    h5py-storage-map.py FILE            -> JSON {path: {"layout", "offset", "storage_size", "chunks": [[address, size, mask, *offset]]}}
    h5py-storage-map.py --make FILE     writes a file with the structures the index must read (h5py, default format)
"""
import json
import sys

import h5py
import numpy as np


def storage_map(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            dcpl = obj.id.get_create_plist()
            layout = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked", h5py.h5d.COMPACT: "compact"}.get(dcpl.get_layout(), "other")
            entry = {"layout": layout, "storage_size": obj.id.get_storage_size()}
            if layout == "contiguous":
                entry["offset"] = obj.id.get_offset()
            if layout == "chunked":
                chunks = []
                for i in range(obj.id.get_num_chunks()):
                    info = obj.id.get_chunk_info(i)
                    chunks.append([info.byte_offset, info.size, info.filter_mask, *info.chunk_offset])
                chunks.sort(key=lambda c: c[3:])
                entry["chunks"] = chunks
                entry["chunk_shape"] = list(obj.chunks)
            out["/" + name] = entry
        f.visititems(visit)
    return out


def make(path):
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        e = f.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        e["title"] = "ascan sy 0 1 10 0.1"
        e.create_dataset("counts", data=np.arange(100000, dtype="<f8").reshape(1000, 100), chunks=(64, 100))
        e.create_dataset("gz", data=np.arange(50000, dtype="<i4"), chunks=(4096,), compression="gzip", shuffle=True)
        e.create_dataset("growing", shape=(0, 8), maxshape=(None, 8), dtype="<u2", chunks=(10, 8))
        e["growing"].resize((35, 8))
        e["growing"][:] = np.arange(280, dtype="<u2").reshape(35, 8)
        e.create_dataset("contig", data=np.linspace(0, 1, 500))
        e.create_dataset("small", data=np.arange(3, dtype="<i8"))
        e.create_dataset("compact", data=np.arange(10, dtype="<i2"), dcpl=_compact())
        e.create_dataset("unwritten", shape=(10,), dtype="<f4")
        e.create_dataset("sparse", shape=(100, 100), dtype="<f4", chunks=(10, 10))
        e["sparse"][50:70, 5:25] = 1
        many = e.create_group("many")
        for i in range(80):  # enough names to split the group's B-tree
            many.create_dataset(f"d{i:03d}", data=np.full(4, i, dtype="<f4"))
        f["entry/link_to_counts"] = h5py.SoftLink("/entry/counts")
        f["entry/hard_counts"] = f["entry/counts"]
        f["entry/lima"] = h5py.ExternalLink("scan0001/lima_0000.h5", "/entry_0000/measurement/data")


def _compact():
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    return dcpl


if __name__ == "__main__":
    if sys.argv[1] == "--make":
        make(sys.argv[2])
    else:
        json.dump(storage_map(sys.argv[1]), sys.stdout)
