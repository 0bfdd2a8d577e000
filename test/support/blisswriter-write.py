"""Writes the reference NeXus file of one blissdata scan with the ESRF writer.

usage: blisswriter-write.py --redis URL --scan-key esrf:scan:<ULID> --out FILE.h5 [--timeout S]

Which writer: blisswriter 3.0.0 (what requirements.txt installs) only *executes* the HDF5 map
that BLISS itself publishes in scan_info["h5maps"]; the map is made inside BLISS
(`scan_info_to_h5map`, not on PyPI), so 3.0.0 writes nothing for a scan that has no map. The
writer that derives the BLISS layout from scan_info itself is blisswriter 2.0.0 (the former
"Nexus writer" service): its `NexusScanSubscriber` follows one scan in Redis and writes the
file exactly as the beamline did. That is the reference here. It is installed beside .venv,
into .local/blisswriter2 (`pip install --target`, its own copy so that 3.0.0 stays the
installed blisswriter), on first use.

The scan's scan_info["filename"] (a /data/visitor path) is redirected to --out; nothing in Redis
is changed. Prints a JSON line {"file", "seconds", "state"}; exit 1 when the writer failed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.path.join(ROOT, ".local", "blisswriter2")
PACKAGES = ["blisswriter==2.0.0", "querypool==1.1.0", "pyicat-plus==3.1.0"]


def ensure_installed() -> None:
    marker = os.path.join(TARGET, "blisswriter-2.0.0.dist-info")
    if os.path.isdir(marker):
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", TARGET, *PACKAGES],
                   check=True, stdout=sys.stderr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", required=True)
    p.add_argument("--scan-key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args(argv)

    ensure_installed()
    sys.path.insert(0, TARGET)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from blissdata.redis_engine.store import DataStore

    # blisswriter 2.0.0 was written against a blissdata 2.x that had blissdata.streams.lima2;
    # blissdata 2.4.5 ships that stream class in the separate blissdata_lima2 package.
    import types
    import blissdata_lima2

    shim = types.ModuleType("blissdata.streams.lima2")
    shim.Lima2Stream = blissdata_lima2.Lima2Stream
    sys.modules.setdefault("blissdata.streams.lima2", shim)
    from blisswriter.subscribers.scan_subscriber import NexusScanSubscriber

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    store = DataStore(args.redis)
    scan = store.load_scan(args.scan_key)

    base = type(scan)

    class RedirectedScan(base):  # type: ignore[misc, valid-type]
        """The same scan, whose scan_info names --out as the file to write."""

        @property
        def info(self):
            info = base.info.fget(self)
            info["filename"] = out
            return info

        @info.setter
        def info(self, value):  # pragma: no cover - the writer never sets it
            base.info.fset(self, value)

    scan.__class__ = RedirectedScan
    t0 = time.perf_counter()
    subscriber = NexusScanSubscriber(scan)
    subscriber.start(block=True, timeout=args.timeout)
    subscriber.join(timeout=args.timeout)
    seconds = time.perf_counter() - t0
    state = subscriber.state.name if hasattr(subscriber.state, "name") else str(subscriber.state)
    ok = os.path.exists(out) and state != "FAULT"
    print(json.dumps({"file": out, "seconds": seconds, "state": state}))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:  # the writer's threads would keep a failed process alive
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(code)
