"""Prints the tree of an HDF5/NeXus file with h5py: groups with NX_class, datasets with shape,
dtype and (for small ones) their value, soft/external links with their targets.

usage: h5tree.py FILE.h5 [--max-values 6]
"""
import argparse
import sys

import h5py
import numpy as np


def fmt_value(ds, max_values):
    if ds.shape == ():
        value = ds[()]
        if isinstance(value, bytes):
            return repr(value.decode())
        return repr(value.item() if isinstance(value, np.generic) else value)
    if ds.size <= max_values:
        return np.array2string(ds[()], separator=", ", threshold=max_values)
    flat = ds[(0,) * (ds.ndim - 1) + (slice(0, max_values),)] if ds.ndim else ds[()]
    return np.array2string(np.asarray(flat), separator=", ") + " …"


def walk(group, indent, max_values, out):
    for name in group:
        link = group.get(name, getlink=True)
        pad = "  " * indent
        if isinstance(link, h5py.SoftLink):
            out.append(f"{pad}{name} -> {link.path}")
            continue
        if isinstance(link, h5py.ExternalLink):
            out.append(f"{pad}{name} -> {link.filename}::{link.path}")
            continue
        node = group[name]
        if isinstance(node, h5py.Group):
            nx = node.attrs.get("NX_class", "")
            nx = nx.decode() if isinstance(nx, bytes) else nx
            extras = [f"@{k}={node.attrs[k]!s}" for k in ("signal", "axes", "default") if k in node.attrs]
            out.append(f"{pad}{name}/ {nx} {' '.join(extras)}".rstrip())
            walk(node, indent + 1, max_values, out)
        else:
            units = node.attrs.get("units")
            unit = f" [{units.decode() if isinstance(units, bytes) else units}]" if units is not None else ""
            out.append(f"{pad}{name}  {node.dtype} {node.shape}{unit}  = {fmt_value(node, max_values)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--max-values", type=int, default=6)
    args = p.parse_args(argv)
    with h5py.File(args.file, "r") as f:
        out = [f"{args.file}  @NX_class={f.attrs.get('NX_class')!s} @default={f.attrs.get('default')!s}"]
        walk(f, 1, args.max_values, out)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
