#!/usr/bin/env python
"""Publishes the less common BLISS scans with the real blissdata package, for the bridge's tests.

    publish_special_scans.py --redis URL json       a scan with a JSON stream next to a numeric one
    publish_special_scans.py --redis URL sequence   a scan sequence: two child scans referenced by
                                                    the sequence's scan stream (blissdata ScanStream)
    publish_special_scans.py --redis URL reshape    a variable-shape uint16 spectrum (shape (-1,)) and
                                                    float32 image (shape (-1, -1)) whose points change
                                                    shape mid-stream: 6 points of [5] / [2, 3], 6 of
                                                    [8] / [3, 2], 3 of [2] / [1, 1] (--points unused)

Prints a JSON summary on stdout (scan keys, run uids, points, the published values where a test
compares them).
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


def publish_reshape(ds: DataStore, args) -> dict:
    points = sum(n for _, _, n in RESHAPE_SEGMENTS)
    scan = ds.create_scan(identity("ascan", args.number), info=scan_info("ascan", args.number, points))
    spectrum = scan.create_stream(Stream.make_definition("mca2:free_spectrum", np.uint16, shape=(-1,)))
    image = scan.create_stream(Stream.make_definition("cam:free_image", np.float32, shape=(-1, -1)))
    scan.prepare()
    scan.start()
    spectra, images, i = [], [], 0
    for bins, (h, w), n in RESHAPE_SEGMENTS:
        for _ in range(n):
            point = np.arange(bins, dtype=np.uint16) + i
            frame = (np.arange(h * w, dtype=np.float32) / 4 + i).reshape(h, w)
            spectrum.send(point)
            image.send(frame)
            spectra.append(point.tolist())
            images.append(frame.tolist())
            i += 1
    spectrum.seal()
    image.seal()
    close(scan)
    return {"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": points,
            "change_at": [RESHAPE_SEGMENTS[0][2], RESHAPE_SEGMENTS[0][2] + RESHAPE_SEGMENTS[1][2]],
            "stream": "mca2:free_spectrum", "image_stream": "cam:free_image", "spectra": spectra, "images": images}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", required=True)
    p.add_argument("--number", type=int, default=1)
    p.add_argument("--points", type=int, default=12)
    p.add_argument("--sleep", type=float, default=0.0, help="json: seconds between points (a scan that lasts)")
    p.add_argument("kind", choices=["json", "sequence", "reshape"])
    args = p.parse_args(argv)
    ds = open_data_store(args.redis)
    summary = {"json": publish_json, "sequence": publish_sequence, "reshape": publish_reshape}[args.kind](ds, args)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    os._exit(0)  # blissdata's sink threads would keep the process alive


if __name__ == "__main__":
    sys.exit(main())
