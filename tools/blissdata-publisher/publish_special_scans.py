#!/usr/bin/env python
"""Publishes the less common BLISS scans with the real blissdata package, for the bridge's tests.

    publish_special_scans.py --redis URL json       a scan with a JSON stream next to a numeric one
    publish_special_scans.py --redis URL --case C hostile
                                                    a scan with a good float64 counter and one stream
                                                    the scan file could never hold (C: float16, f8be,
                                                    json-seal, numeric-seal, zero-shape, gap): dtypes
                                                    through blissdata, the rest as raw entries written
                                                    with redis where blissdata would refuse them
    publish_special_scans.py --redis URL sequence   a scan sequence: two child scans referenced by
                                                    the sequence's scan stream (blissdata ScanStream)
    publish_special_scans.py --redis URL reshape    a variable-shape uint16 spectrum (shape (-1,)) and
                                                    float32 image (shape (-1, -1)) whose points change
                                                    shape mid-stream: 6 points of [5] / [2, 3], 6 of
                                                    [8] / [3, 2], 3 of [2] / [1, 1] (--points unused)
    publish_special_scans.py --redis URL --shape-seed 7 --points 300 --max-batch 4 --sleep 0.035 \
        --dump-values reshape.npz reshape           the same streams with --points points whose shapes
                                                    follow a schedule drawn from the seed (each stream
                                                    its own: runs of 1 to 24 points, of 1 to 6 for the
                                                    largest; from 1 value to ~20 kB a point), sent in
                                                    batches of 1 to --max-batch points of one shape,
                                                    --sleep seconds between sends

Prints a JSON summary on stdout (scan keys, run uids, points, the published values where a test
compares them). reshape --dump-values FILE.npz saves, per stream (":" spelled "__"), `<stream>.values`
(every point's values flattened and concatenated in order: the bytes the bridge stages) and
`<stream>.shapes` ([points, rank]: each point's shape); the summary then omits the values.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np
from blissdata.redis_engine.store import DataStore
from blissdata.streams.default import Stream
from blissdata.streams.scan_sequence import ScanStream


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat()


def open_data_store(url: str) -> DataStore:
    try:
        return DataStore(url)
    except Exception:  # not initialised yet
        return DataStore(url, init_db=True)


def identity(name: str, number: int, collection: str = "sample1", dataset: str = "0001") -> dict:
    path = f"/data/visitor/ihch123/id00/20261122/RAW_DATA/{collection}/{collection}_{dataset}/{collection}_{dataset}.h5"
    return {"name": name, "number": number, "data_policy": "ESRF", "session": "demo", "proposal": "ihch123",
            "collection": collection, "dataset": dataset, "path": path}


def scan_info(kind: str, number: int, npoints: int, title: str | None = None) -> dict:
    return {
        "name": kind, "type": kind, "title": title or f"{kind} {number}", "npoints": npoints, "count_time": 0.1,
        "scan_nb": number, "start_time": now_iso(), "save": True, "data_policy": "ESRF",
        "dataset_metadata_snapshot": {"Sample_name": "gold", "definition": "XRF"},
    }


def close(scan, end_reason: str = "SUCCESS") -> None:
    info = scan.info
    info["end_time"] = now_iso()
    info["end_reason"] = end_reason
    scan.info = info
    scan.close()


def json_values(n: int) -> list:
    """Values of every JSON shape: objects, arrays, unicode, floats, null, booleans, nesting, a newline in a string."""
    out = []
    for i in range(n):
        kind = i % 6
        if kind == 0:
            out.append({"index": i, "state": "MOVING", "position": i * 0.125})
        elif kind == 1:
            out.append([i, "ångström", None, True])
        elif kind == 2:
            out.append(f"note {i}: line one\nline two € 🙂")
        elif kind == 3:
            out.append(i * 1.5e-7)
        elif kind == 4:
            out.append(None)
        else:
            out.append({"nested": {"list": list(range(i % 7)), "flag": False}, "text": "x" * (i % 13)})
    return out


def publish_json(ds: DataStore, args) -> dict:
    scan = ds.create_scan(identity("loopscan", args.number), info=scan_info("loopscan", args.number, args.points))
    counter = scan.create_stream(Stream.make_definition("diode:diode1", np.float64))
    events = scan.create_stream(Stream.make_definition("sample_env:events", "json", info={"description": "sample environment events"}))
    scan.prepare()
    scan.start()
    values = json_values(args.points)
    diode = np.arange(args.points, dtype=np.float64) * 0.5
    for i in range(args.points):
        counter.send(diode[i])
        events.send(values[i])
        if args.sleep:
            time.sleep(args.sleep)
    counter.seal()
    events.seal()
    close(scan)
    return {"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": args.points,
            "json_channel": "sample_env:events", "values": values}


def publish_sequence(ds: DataStore, args) -> dict:
    seq = ds.create_scan(identity("sequence", args.number), info={**scan_info("sequence", args.number, 0, "my_sequence"), "is-scan-sequence": True})
    subscans = seq.create_stream(ScanStream.make_definition("SUBSCANS"))
    seq.prepare()
    seq.start()
    children = []
    for k in range(2):
        number = args.number + 1 + k
        child = ds.create_scan(identity("ascan", number), info={**scan_info("ascan", number, args.points), "group": seq.key})
        stream = child.create_stream(Stream.make_definition("diode:diode1", np.float64))
        child.prepare()
        child.start()
        stream.send(np.arange(args.points, dtype=np.float64) + 100 * k)
        stream.seal()
        close(child)
        subscans.send({"key": child.key})
        children.append({"scan_key": child.key, "run_uid": child.key.split(":")[-1], "number": number, "points": args.points})
    subscans.seal()
    close(seq)
    return {"scan_key": seq.key, "run_uid": seq.key.split(":")[-1], "number": args.number, "children": children}


RESHAPE_SEGMENTS = [(5, (2, 3), 6), (8, (3, 2), 6), (2, (1, 1), 3)]
"""Points of the reshape scan: (spectrum bins, image shape, points) per run of equal shapes."""

SPECTRUM, IMAGE = "mca2:free_spectrum", "cam:free_image"


def seeded_shapes(rng: np.random.Generator, points: int, rank: int) -> list[tuple[tuple[int, ...], int]]:
    """Runs of equal point shapes, (shape, points) each, that add up to `points`: small, medium and large
    points (up to ~20 kB as uint16 spectra or float32 images), so that chunks are cut by the grid, by the
    chunk bytes and at each change, and some single points exceed a chunk's bytes (of 12 kB, say)."""
    runs: list[tuple[tuple[int, ...], int]] = []
    total = 0
    while total < points:
        # The first run is small (a ROI that grows): the grid, fixed by the first points, is then the
        # chunk points, and the chunk bytes cut the larger points' chunks. Runs of large points are
        # short (about one chunk per point).
        kind = 0 if not runs else int(rng.choice(3, p=[0.3, 0.4, 0.3]))
        n = min(points - total, int(rng.integers(1, 25 if kind < 2 else 7)))
        if rank == 1:
            low, high = [(1, 9), (9, 700), (2000, 10000)][kind]
            shape: tuple[int, ...] = (int(rng.integers(low, high)),)
        else:
            low, high = [(1, 5), (5, 31), (40, 71)][kind]
            shape = (int(rng.integers(low, high)), int(rng.integers(low, high)))
        if runs and runs[-1][0] == shape:
            continue  # a run is a change of shape
        runs.append((shape, n))
        total += n
    return runs


def reshape_batches(args) -> dict[str, list[np.ndarray]]:
    """Per stream, the batches to send (arrays of points of one shape), in order: the fixed default
    schedule (one point per send), or one drawn from --shape-seed."""
    if args.shape_seed is None:
        spectra, images, i = [], [], 0
        for bins, (h, w), n in RESHAPE_SEGMENTS:
            for _ in range(n):
                spectra.append((np.arange(bins, dtype=np.uint16) + i)[np.newaxis])
                images.append((np.arange(h * w, dtype=np.float32) / 4 + i).reshape(1, h, w))
                i += 1
        return {SPECTRUM: spectra, IMAGE: images}
    rng = np.random.default_rng(args.shape_seed)
    out: dict[str, list[np.ndarray]] = {}
    for name, rank, dtype in ((SPECTRUM, 1, np.uint16), (IMAGE, 2, np.float32)):
        batches = []
        for shape, n in seeded_shapes(rng, args.points, rank):
            while n > 0:
                count = min(n, int(rng.integers(1, args.max_batch + 1)))
                size = count * int(np.prod(shape))
                if dtype == np.uint16:
                    values = rng.integers(0, 65536, size, dtype=np.uint16)
                else:
                    values = (rng.standard_normal(size) * 1e3).astype(np.float32)
                batches.append(values.reshape(count, *shape))
                n -= count
        out[name] = batches
    return out


def publish_reshape(ds: DataStore, args) -> dict:
    batches = reshape_batches(args)
    points = sum(len(b) for b in batches[SPECTRUM])
    scan = ds.create_scan(identity("ascan", args.number), info=scan_info("ascan", args.number, points))
    streams = {
        SPECTRUM: scan.create_stream(Stream.make_definition(SPECTRUM, np.uint16, shape=(-1,))),
        IMAGE: scan.create_stream(Stream.make_definition(IMAGE, np.float32, shape=(-1, -1))),
    }
    scan.prepare()
    scan.start()
    # The streams' batches interleaved in the order of their first point (the spectrum first on a tie).
    sent = {name: 0 for name in streams}
    pending = {name: list(b) for name, b in batches.items()}
    while any(pending.values()):
        name = min((n for n in streams if pending[n]), key=lambda n: sent[n])
        batch = pending[name].pop(0)
        streams[name].send(batch)
        sent[name] += len(batch)
        if args.sleep:
            time.sleep(args.sleep)
    for stream in streams.values():
        stream.seal()
    close(scan)
    summary: dict = {"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": points}
    if args.shape_seed is None:
        summary["change_at"] = [RESHAPE_SEGMENTS[0][2], RESHAPE_SEGMENTS[0][2] + RESHAPE_SEGMENTS[1][2]]
    else:
        summary["changes"] = {name: changes_of(b) for name, b in batches.items()}
    summary.update({"stream": SPECTRUM, "image_stream": IMAGE})
    if args.dump_values:
        dump = {}
        for name, b in batches.items():
            safe = name.replace(":", "__")
            dump[f"{safe}.values"] = np.concatenate([x.ravel() for x in b])
            dump[f"{safe}.shapes"] = np.array([p.shape for x in b for p in x], dtype=np.int64)
        np.savez(args.dump_values, **dump)
        summary["dump"] = args.dump_values
    else:
        summary["spectra"] = [p.tolist() for x in batches[SPECTRUM] for p in x]
        summary["images"] = [p.tolist() for x in batches[IMAGE] for p in x]
    return summary


def changes_of(batches: list[np.ndarray]) -> list[int]:
    """Indices of the points whose shape differs from the previous point's."""
    out, index, shape = [], 0, None
    for batch in batches:
        if shape is not None and batch.shape[1:] != shape:
            out.append(index)
        shape = batch.shape[1:]
        index += len(batch)
    return out


SEAL_ID = "18446744073709551615-18446744073709551615"


def publish_hostile(ds: DataStore, args) -> dict:
    """A scan the bridge must refuse at once (Run Failed) while its other scans keep flowing."""
    scan = ds.create_scan(identity("loopscan", args.number), info=scan_info("loopscan", args.number, args.points))
    good = scan.create_stream(Stream.make_definition("diode:diode1", np.float64))
    case = args.case
    dtype = {"float16": np.dtype("<f2"), "f8be": np.dtype(">f8")}.get(case, np.dtype("<f8"))
    if case == "json-seal":
        bad = scan.create_stream(Stream.make_definition("env:events", "json"))
    elif case == "zero-shape":
        bad = scan.create_stream(Stream.make_definition("mca:empty", np.float64, shape=(0,)))
    else:
        bad = scan.create_stream(Stream.make_definition("diode:bad", dtype))
    key = scan._model.data_streams[bad.name].key()
    raw = ds._redis
    scan.prepare()
    scan.start()
    good.send(np.arange(args.points, dtype=np.float64))
    if case in ("float16", "f8be"):
        bad.send(np.arange(args.points).astype(dtype))
        bad.seal()
    elif case == "json-seal":
        bad.send({"a": 1})  # 7 bytes of JSON …
        bad.join()  # in Redis before the raw seal
        raw.xadd(key, {"id": 50_000_000}, id=SEAL_ID)  # … sealed at 5·10^7 points
    elif case == "numeric-seal":
        bad.send(np.arange(3, dtype=np.float64))
        bad.join()
        raw.xadd(key, {"id": 10**12}, id=SEAL_ID)
    elif case == "zero-shape":
        raw.xadd(key, {"payload": b"", "len": 100_000_000}, id="0-1")
        raw.xadd(key, {"id": 100_000_000}, id=SEAL_ID)
    elif case == "gap":
        bad.send(np.arange(2, dtype=np.float64))
        bad.join()
        raw.xadd(key, {"payload": np.float64(1.0).tobytes()}, id="2000002-1")
        raw.xadd(key, {"id": 2_000_003}, id=SEAL_ID)
    good.seal()
    close(scan)
    return {"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": args.points, "stream": bad.name, "stream_key": key}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", required=True)
    p.add_argument("--number", type=int, default=1)
    p.add_argument("--points", type=int, default=12)
    p.add_argument("--sleep", type=float, default=0.0, help="json, reshape: seconds between sends (a scan that lasts)")
    p.add_argument("--shape-seed", type=int, default=None,
                   help="reshape: --points points whose shapes follow a schedule drawn from this seed (default: the fixed 15 points)")
    p.add_argument("--max-batch", type=int, default=1, help="reshape with --shape-seed: points per send, 1 to this")
    p.add_argument("--dump-values", help="reshape: save each point's values and shape to this .npz (not in the summary)")
    p.add_argument("--case", choices=["float16", "f8be", "json-seal", "numeric-seal", "zero-shape", "gap"], help="hostile: what is wrong")
    p.add_argument("kind", choices=["json", "sequence", "reshape", "hostile"])
    args = p.parse_args(argv)
    ds = open_data_store(args.redis)
    summary = {"json": publish_json, "sequence": publish_sequence, "reshape": publish_reshape, "hostile": publish_hostile}[args.kind](ds, args)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    os._exit(0)  # blissdata's sink threads would keep the process alive


if __name__ == "__main__":
    sys.exit(main())
