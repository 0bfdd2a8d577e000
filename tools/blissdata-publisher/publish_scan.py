#!/usr/bin/env python
"""Publishes a realistic BLISS scan into Redis with the real blissdata package.

Used by the bridge's integration tests, the demo and the benchmarks. Prints a JSON summary on
stdout (scan key, channels, dtypes, points); with --dump-values FILE.npz every channel's
published values are saved so that a test can compare staged chunks bit for bit.

    publish_scan.py --redis redis://127.0.0.1:6379 --type ascan --points 100 --counters 3 --batch 10
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

MOTOR = "sy"
CONTROLLER = "simulation_diode_sampling_controller"


def open_data_store(url: str) -> DataStore:
    """Opens the blissdata store, creating its indexes when the database is still empty."""
    try:
        return DataStore(url)
    except Exception:  # not initialised yet (blissdata raises a plain error)
        return DataStore(url, init_db=True)


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat()


def scan_motors(kind: str, n: int, n2: int) -> dict:
    """Positions per motor (point by point) and the motors' positions before the scan."""
    if kind == "ascan":
        return {"positions": {MOTOR: np.linspace(0.0, 1.0, n)}, "start": {MOTOR: 0.0}, "range": {MOTOR: (0.0, 1.0)}}
    if kind == "dscan":  # relative to where the motor was: BLISS records the absolute positions
        here = 0.25
        return {"positions": {MOTOR: here + np.linspace(-0.5, 0.5, n)}, "start": {MOTOR: here}, "range": {MOTOR: (-0.5, 0.5)}}
    if kind == "a2scan":
        return {"positions": {MOTOR: np.linspace(0.0, 1.0, n), "sz": np.linspace(2.0, 3.0, n)},
                "start": {MOTOR: 0.0, "sz": 2.0}, "range": {MOTOR: (0.0, 1.0), "sz": (2.0, 3.0)}}
    if kind == "amesh":  # first motor fast, second slow
        fast, slow = np.linspace(0.0, 1.0, n), np.linspace(2.0, 3.0, n2)
        return {"positions": {MOTOR: np.tile(fast, n2), "sz": np.repeat(slow, n)},
                "start": {MOTOR: 0.0, "sz": 2.0}, "range": {MOTOR: (0.0, 1.0), "sz": (2.0, 3.0)}}
    return {"positions": {}, "start": {}, "range": {}}


def scan_title(kind: str, motors: dict, npoints: int, n: int, n2: int, count_time: float) -> str:
    r = motors["range"]
    if kind in ("ascan", "dscan"):
        return f"{kind} {MOTOR} {r[MOTOR][0]} {r[MOTOR][1]} {npoints - 1} {count_time}"
    if kind == "a2scan":
        return f"a2scan {MOTOR} {r[MOTOR][0]} {r[MOTOR][1]} sz {r['sz'][0]} {r['sz'][1]} {npoints - 1} {count_time}"
    if kind == "amesh":
        return f"amesh {MOTOR} {r[MOTOR][0]} {r[MOTOR][1]} {n - 1} sz {r['sz'][0]} {r['sz'][1]} {n2 - 1} {count_time}"
    if kind == "loopscan":
        return f"loopscan {npoints} {count_time}"
    if kind == "timescan":
        return f"timescan {count_time}"
    return f"ct {count_time}"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", required=True, help="Redis URL (with RedisJSON and RediSearch)")
    p.add_argument("--type", choices=["ascan", "loopscan", "ct", "timescan", "a2scan", "dscan", "amesh"], default="ascan")
    p.add_argument("--points", type=int, default=10, help="points (amesh: points of the fast axis)")
    p.add_argument("--points2", type=int, default=None, help="amesh: points of the slow axis (default: --points)")
    p.add_argument("--note", action="append", default=[], help="a scan comment (scan_info comments), repeatable")
    p.add_argument("--counters", type=int, default=2)
    p.add_argument("--batch", type=int, default=1, help="points per send")
    p.add_argument("--dtype", default="float64", help="numpy dtype of the counters (float64, float32, int16, uint32, bool, complex128 …)")
    p.add_argument("--spectrum", type=int, default=0, help="add a 1D MCA channel with this many bins (uint32)")
    p.add_argument("--count-time", type=float, default=0.1)
    p.add_argument("--sleep", type=float, default=0.0, help="seconds to wait between batches")
    p.add_argument("--proposal", default="ihch123")
    p.add_argument("--beamline", default="id00")
    p.add_argument("--session", default="20261122")
    p.add_argument("--collection", default="sample1")
    p.add_argument("--dataset", default="0001")
    p.add_argument("--bliss-session", default="demo_session")
    p.add_argument("--sample-name", default="sample1")
    p.add_argument("--number", type=int, default=1, help="scan number")
    p.add_argument("--end-reason", default="SUCCESS", help="SUCCESS, USER_ABORT, FAILURE …")
    p.add_argument("--corrupt", choices=["truncated", "dtype"], help="publish a broken first counter")
    p.add_argument("--corrupt-index", type=int, default=None, help="point index of the truncated entry")
    p.add_argument("--seed", type=int, default=0)
    # Bridge edge cases (tests of the edge bridge).
    p.add_argument("--free-spectrum", type=int, default=0,
                   help="add a uint16 channel declared with shape (-1,) (msgpack payloads) of this many bins per point")
    p.add_argument("--never-start", action="store_true", help="prepare the scan, then close it (end_reason FAILURE) without starting it")
    p.add_argument("--delete-after", type=int, default=None, help="delete the running scan (delete_scan force) after this many points and exit")
    p.add_argument("--trim-first", type=int, default=0,
                   help="before sealing, trim the first counter's stream (XTRIM MINID) so its entries starting before this index are gone")
    p.add_argument("--dump-values", help="save every channel's published values to this .npz")
    # Channels the archive must handle apart (one bad channel never loses a scan, bool channels).
    p.add_argument("--extra-channel", action="append", default=[], choices=["bool", "complex", "cube"],
                   help="add a channel: bool (flags:shutter_open, numpy bool), complex (fft:amplitude, complex128),"
                        " cube (cube1:volume, float32 points of shape (2, 3, 4)); repeatable")
    p.add_argument("--ragged", action="store_true",
                   help="with --stop-after: counter k (1-based) publishes k points fewer than the motors and the timer"
                        " (a scan stopped with Ctrl-C between two streams' points)")
    p.add_argument("--sample-notes", default=None, help="Sample_notes of the dataset's ICAT snapshot")
    p.add_argument("--no-machine", action="store_true", help="publish no scan_meta_categories instrument/technique metadata")
    # Scans that end early (aborted by the user, or failed): fewer points than scan_info's npoints.
    p.add_argument("--stop-after", type=int, default=None,
                   help="publish only this many points, then seal the streams and close the scan with --end-reason"
                        " (an aborted or failed scan: scan_info keeps the planned npoints)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    npoints = 1 if args.type == "ct" else args.points
    npoints2 = args.points2 or args.points
    if args.type == "amesh":
        npoints = args.points * npoints2
    dtype = np.dtype(args.dtype)
    motors = scan_motors(args.type, args.points, npoints2)

    ds = open_data_store(args.redis)
    path = (f"/data/visitor/{args.proposal}/{args.beamline}/{args.session}/RAW_DATA/"
            f"{args.collection}/{args.collection}_{args.dataset}/{args.collection}_{args.dataset}.h5")
    identity = {
        "name": args.type, "number": args.number, "data_policy": "ESRF", "session": args.bliss_session,
        "proposal": args.proposal, "collection": args.collection, "dataset": args.dataset, "path": path,
    }

    # Channels and their values, generated up front so they can be dumped.
    values: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    display: dict[str, str] = {}
    for name, positions in motors["positions"].items():
        values[f"axis:{name}"] = positions
        units[f"axis:{name}"] = "mm"
        display[f"axis:{name}"] = name
    values["timer:elapsed_time"] = np.arange(npoints) * args.count_time
    values["timer:epoch"] = time.time() + np.arange(npoints) * args.count_time
    units["timer:elapsed_time"] = units["timer:epoch"] = "s"
    display["timer:elapsed_time"] = "elapsed_time"
    display["timer:epoch"] = "epoch"
    counters = []
    for k in range(args.counters):
        name = f"{CONTROLLER}:diode{k + 1}"
        counters.append(name)
        if dtype.kind == "b":
            v = rng.integers(0, 2, npoints).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            v = rng.integers(max(info.min, -1000), min(info.max, 1000), npoints, endpoint=True).astype(dtype)
        elif dtype.kind == "c":
            v = (rng.standard_normal(npoints) + 1j * rng.standard_normal(npoints)).astype(dtype)
        else:
            v = rng.standard_normal(npoints).astype(dtype)
        values[name] = v
        display[name] = f"diode{k + 1}"
    if args.spectrum:
        values["mca1:spectrum_det0"] = rng.integers(0, 5000, (npoints, args.spectrum)).astype(np.uint32)
        display["mca1:spectrum_det0"] = "spectrum_det0"
    if "bool" in args.extra_channel:
        values["flags:shutter_open"] = rng.integers(0, 2, npoints).astype(bool)
        display["flags:shutter_open"] = "shutter_open"
    if "complex" in args.extra_channel:
        values["fft:amplitude"] = (rng.standard_normal(npoints) + 1j * rng.standard_normal(npoints)).astype(np.complex128)
        display["fft:amplitude"] = "amplitude"
    if "cube" in args.extra_channel:
        values["cube1:volume"] = rng.standard_normal((npoints, 2, 3, 4)).astype(np.float32)
        display["cube1:volume"] = "volume"
    if args.free_spectrum:
        values["mca2:free_spectrum"] = rng.integers(0, 60000, (npoints, args.free_spectrum)).astype(np.uint16)
        display["mca2:free_spectrum"] = "free_spectrum"

    channels_info = {}
    for name, v in values.items():
        ch = {"display_name": display.get(name, name.split(":")[-1]), "dim": v.ndim - 1}
        if name in units:
            ch["unit"] = units[name]
        channels_info[name] = ch

    title = scan_title(args.type, motors, npoints, args.points, npoints2, args.count_time)
    master_channels = [f"axis:{m}" for m in motors["positions"]]
    top = "axis" if master_channels else "timer"
    controllers = sorted({n.split(":")[0] for n in values if not n.startswith(("axis:", "timer:"))})
    # Devices and acquisition chain as BLISS publishes them: the top master (motors, or the timer)
    # triggers the timer, which triggers the counter controllers.
    devices = {"timer": {"channels": ["timer:elapsed_time", "timer:epoch"], "triggered_devices": controllers}}
    if master_channels:
        devices = {"axis": {"channels": master_channels, "triggered_devices": ["timer"]}, **devices}
    for controller in controllers:
        devices[controller] = {"channels": [n for n in values if n.split(":")[0] == controller]}
    signal = counters[0] if counters else "timer:epoch"
    if args.type == "amesh":
        plot = {"kind": "scatter-plot", "name": "default-scatter-plot",
                "items": [{"kind": "scatter", "x": master_channels[0], "y": master_channels[1], "value": signal}]}
    else:
        plot = {"kind": "curve-plot", "name": "default-curve-plot",
                "items": [{"kind": "curve", "x": master_channels[0] if master_channels else "timer:elapsed_time", "y": signal}]}
    start_positions = {**motors["start"], "sz": motors["start"].get("sz", 2.5)}
    scan_info = {
        "name": args.type,
        "title": title,
        "type": args.type,
        "npoints": 0 if args.type == "timescan" else npoints,
        "count_time": args.count_time,
        "data_dim": 2 if args.type == "amesh" else 1,
        **({"npoints1": args.points, "npoints2": npoints2} if args.type == "amesh" else {}),
        "session_name": args.bliss_session,
        "user_name": "opid00",
        "scan_nb": args.number,
        "start_time": now_iso(),
        "filename": path,
        "save": True,
        "data_writer": "nexus",
        "data_policy": "ESRF",
        "scan_meta_categories": ["positioners", "nexuswriter"] + ([] if args.no_machine else ["instrument", "technique"]),
        # What BLISS's machine info and a technique controller publish through scan_meta (ESRF files carry it).
        **({} if args.no_machine else {
            "instrument": {"@NX_class": "NXinstrument", "machine": {
                "@NX_class": "NXsource", "name": "ESRF", "type": "Synchrotron X-ray Source", "probe": "x-ray",
                "current": 198.7, "current@units": "mA", "filling_mode": "7/8 multibunch",
                "refill_countdown": 3456.5, "refill_countdown@units": "s", "message": "You are in User Service Mode",
            }},
            "technique": {"@NX_class": "NXcollection", "energy": 12.4, "energy@units": "keV", "edge": "Au-L3"},
        }),
        "writer_options": {"chunk_options": {}, "separate_scan_files": False},
        "acquisition_chain": {
            top: {
                "devices": list(devices),
                "top_master": top,
                "scalars": [n for n in values if values[n].ndim == 1],
                "spectra": [n for n in values if values[n].ndim == 2],
                "images": [],
                "master": {"scalars": master_channels + ["timer:elapsed_time", "timer:epoch"]},
            }
        },
        "devices": devices,
        "channels": channels_info,
        "plots": [plot],
        "display_extra": {"plotselect": [signal]},
        "comments": [{"date": now_iso(), "message": note} for note in args.note],
        "positioners": {
            "positioners_start": start_positions,
            "positioners_dial_start": {k: 0.0 - v for k, v in start_positions.items()},  # dial = -user, never -0.0
            "positioners_units": {k: "mm" for k in start_positions},
        },
        "dataset_metadata_snapshot": {
            "Sample_name": args.sample_name,
            "Sample_description": "gold foil",
            "InstrumentSource_current": 198.7,
            "definition": "XRF",
            **({"Sample_notes": args.sample_notes} if args.sample_notes is not None else {}),
        },
    }
    scan = ds.create_scan(identity, info=scan_info)

    streams = {}
    corrupt_name = counters[0] if (args.corrupt and counters) else None
    for name, v in values.items():
        shape = (-1,) if name == "mca2:free_spectrum" else v.shape[1:]
        info = {"unit": units[name]} if name in units else {}
        definition = Stream.make_definition(name, v.dtype, shape=shape or None, info=info)
        streams[name] = scan.create_stream(definition)
        if name == corrupt_name and args.corrupt == "dtype":
            # The JSON announces another dtype than the payloads carry (4-byte items for 8-byte data).
            scan._model.data_streams[name].encoding["dtype_str"] = "<f4" if v.dtype.itemsize != 4 else "<f8"

    scan.prepare()
    if args.never_start:
        info = scan.info
        info["end_time"] = now_iso()
        info["end_reason"] = "FAILURE"
        scan.info = info
        scan.close()
        json.dump({"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": 0, "never_started": True}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    scan.start()
    redis = ds._redis
    corrupt_index = args.corrupt_index if args.corrupt_index is not None else npoints // 2
    # An aborted or failed scan stops publishing early; the planned npoints stay in scan_info.
    published = npoints if args.stop_after is None else max(0, min(npoints, args.stop_after))
    # Points each stream publishes: all of them, or (--ragged) k fewer for the k-th counter.
    ends = {name: published for name in streams}
    if args.ragged:
        for k, name in enumerate(counters, 1):
            ends[name] = max(0, published - k)
    for first in range(0, published, args.batch):
        last = min(first + args.batch, published)
        for name, stream in streams.items():
            if first >= ends[name]:
                continue
            chunk = values[name][first:min(last, ends[name])]
            if name == corrupt_name and args.corrupt == "truncated" and first <= corrupt_index < last:
                # Write this batch by hand with its last byte missing, as a broken producer would.
                # blissdata sends from a background sink: flush it first so ids stay increasing.
                stream.join()
                key = scan._model.data_streams[name].key()
                payload = chunk.tobytes()[:-1]
                fields = {"payload": payload}
                if len(chunk) > 1:
                    fields["len"] = len(chunk)
                redis.xadd(key, fields, id=f"{first}-1")
                stream._writer_truncated = last
                continue
            if getattr(stream, "_writer_truncated", None) is not None:
                # Keep the hand-written stream consistent: raw entries from here on.
                key = scan._model.data_streams[name].key()
                fields = {"payload": chunk.tobytes()}
                if len(chunk) > 1:
                    fields["len"] = len(chunk)
                redis.xadd(key, fields, id=f"{first}-1")
                continue
            stream.send(chunk if len(chunk) > 1 else chunk[0])
        if args.sleep:
            time.sleep(args.sleep)
        if args.delete_after is not None and last >= args.delete_after:
            for stream in streams.values():
                stream.join()
            ds.delete_scan(scan.key, force=True)
            json.dump({"scan_key": scan.key, "run_uid": scan.key.split(":")[-1], "points": last, "deleted": True}, sys.stdout)
            sys.stdout.write("\n")
            sys.stdout.flush()
            os._exit(0)  # blissdata's sink threads would keep the process alive

    trimmed = None
    if args.trim_first and counters:
        # Redis dropping early entries (memory limits): only entries starting at or after the index remain.
        streams[counters[0]].join()
        key = scan._model.data_streams[counters[0]].key()
        redis.xtrim(key, minid=f"{args.trim_first}-0", approximate=False)
        remaining = redis.xrange(key, count=1)
        trimmed = {"stream": counters[0], "first": int(remaining[0][0].decode().split("-")[0]) if remaining else npoints}
    for name, stream in streams.items():
        if getattr(stream, "_writer_truncated", None) is not None:
            key = scan._model.data_streams[name].key()
            redis.xadd(key, {"id": published}, id="18446744073709551615-18446744073709551615")
            scan._writer_streams.pop(name, None)
        else:
            stream.seal()
    scan.stop()
    info = scan.info
    info["end_time"] = now_iso()
    info["end_reason"] = args.end_reason
    end_positions = {**start_positions, **{m: float(p[published - 1]) for m, p in motors["positions"].items()}} if published else start_positions
    info["positioners"]["positioners_end"] = end_positions
    info["positioners"]["positioners_dial_end"] = {k: 0.0 - v for k, v in end_positions.items()}
    scan.info = info
    scan.close()
    closed_at = time.time()

    summary = {
        "closed_at": closed_at,
        "scan_key": scan.key,
        "run_uid": scan.key.split(":")[-1],
        "type": args.type,
        "points": published,
        **({"planned_points": npoints} if published != npoints else {}),
        "channels": {name: {"dtype": v.dtype.str, "shape": list(v.shape[1:]), "points": ends.get(name, published)} for name, v in values.items()},
        "corrupt": {"stream": corrupt_name, "kind": args.corrupt,
                    "index": (corrupt_index // args.batch) * args.batch if args.corrupt == "truncated" else 0}
        if args.corrupt else None,
    }
    if trimmed:
        summary["trimmed"] = trimmed
    if args.dump_values:
        np.savez(args.dump_values, **{name.replace(":", "__"): v[:ends.get(name, published)] for name, v in values.items()})
        summary["dump"] = args.dump_values
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:  # blissdata's sink threads would keep a failed process alive
        import os
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.exit(code)
