#!/usr/bin/env python
"""Runs real Bluesky plans on a real RunEngine with ophyd's simulated devices, publishing every
document through tools/bluesky-publisher (RedisDocumentPublisher) into Redis.

Prints one JSON line on stdout: {"runs": [{uid, plan_name, scan_id, exit_status, channels:
{"primary:det": [values...], ...}, not_archived: [...]}]} where the values are exactly what the
RunEngine emitted (JSON, NaN as {"$float": "nan"}), for the test to compare with the archived file.

    bluesky-run-plans.py --redis redis://127.0.0.1:6379 --plans count,scan,grid_scan --dataset bs1
    --hold-at N --hold-file F   block the RunEngine at the N-th primary event of the first plan
                                until F exists (a bridge restart mid-run)
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bluesky-publisher"))

from beamline_archive_bluesky import RedisDocumentPublisher, encode_document  # noqa: E402
from bluesky import RunEngine  # noqa: E402
from bluesky import plan_stubs as bps  # noqa: E402
from bluesky.plans import count, grid_scan, scan  # noqa: E402
from bluesky.preprocessors import SupplementalData  # noqa: E402
from ophyd.sim import SynSignal, det, det1, motor, motor1, motor2  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--stream", default="bluesky:documents")
    parser.add_argument("--plans", default="count,scan,grid_scan")
    parser.add_argument("--proposal", default="bs123")
    parser.add_argument("--dataset", default="0001")
    parser.add_argument("--scan-id", type=int, default=1, help="scan_id of the first run")
    parser.add_argument("--points", type=int, default=11)
    parser.add_argument("--hold-at", type=int, default=0)
    parser.add_argument("--hold-file", default="")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-retries", type=int, default=0, help="reconnect and retry an XADD this many times (Redis restarts)")
    args = parser.parse_args()

    rng = random.Random(args.seed)

    def noisy_value():
        # Full-precision float64 (and now and then a NaN): must round-trip bit for bit.
        return math.nan if rng.random() < 0.15 else rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300)

    noisy = SynSignal(func=noisy_value, name="noisy")
    labels = iter(f"gold #{i} \u00e9\"" for i in range(10**6))
    label = SynSignal(func=lambda: next(labels), name="label")  # a string key: archived as JSON texts

    # Values JSON carries only by the publisher's conventions, through a real RunEngine and ophyd's describe():
    # non-finite and signed-zero floats, an int64 beyond 2^32, a float32, a boolean (all archived as float64, exactly).
    specials = itertools.cycle([math.inf, -0.0, -math.inf, 5e-324, math.nan, 1.7976931348623157e308, 0.1])
    special = SynSignal(func=lambda: next(specials), name="special")
    counts = itertools.count(2**40)
    counter = SynSignal(func=lambda: np.int64(next(counts)), name="counter")
    single = SynSignal(func=lambda: np.float32(rng.uniform(-1, 1)), name="single")
    flags = itertools.cycle([True, False, False])
    flag = SynSignal(func=lambda: next(flags), name="flag")  # ophyd describes a bool as "integer"

    RE = RunEngine({})
    RE.md.update({"proposal": args.proposal, "session": "20261122", "dataset": args.dataset, "beamline": "bs00"})
    RE.md["scan_id"] = args.scan_id - 1
    sd = SupplementalData(baseline=[motor1, motor2, motor])
    RE.preprocessors.append(sd)
    client = args.redis
    if args.redis_retries:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(args.redis, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), args.redis_retries),
                                      retry_on_error=[redis.exceptions.ConnectionError])
    RE.subscribe(RedisDocumentPublisher(client, stream=args.stream))

    runs: list = []
    descriptors: dict = {}

    def record(name, doc):
        if name == "start":
            runs.append({"uid": doc["uid"], "plan_name": doc["plan_name"], "scan_id": doc["scan_id"], "channels": {}, "not_archived": []})
        elif name == "descriptor":
            descriptors[doc["uid"]] = doc["name"]
            for key, dk in doc["data_keys"].items():
                if dk.get("external"):
                    runs[-1]["not_archived"].append(f"{doc['name']}:{key}")
        elif name == "event":
            stream = descriptors[doc["descriptor"]]
            for key, value in doc["data"].items():
                if f"{stream}:{key}" in runs[-1]["not_archived"]:
                    continue
                runs[-1]["channels"].setdefault(f"{stream}:{key}", []).append(value)
            if args.hold_at and stream == "primary" and doc["seq_num"] == args.hold_at and len(runs) == 1:
                while not os.path.exists(args.hold_file):
                    time.sleep(0.05)
        elif name == "stop":
            runs[-1]["exit_status"] = doc["exit_status"]
            runs[-1]["reason"] = doc.get("reason", "")
            runs[-1]["num_events"] = doc["num_events"]

    RE.subscribe(record)
    n = args.points
    for plan in args.plans.split(","):
        if plan == "count":
            RE(count([det, det1, noisy, label, special, counter, single, flag], num=n), sample="gold foil", scan_type="count test")
        elif plan == "scan":
            RE(scan([det, noisy], motor, -1, 1, n), sample={"name": "silver", "thickness": 2})
        elif plan == "grid_scan":
            RE(grid_scan([det], motor1, -1, 1, 3, motor2, -2, 2, 4, snake_axes=False), regions=[[0, 1], [2, 3]])
        elif plan == "count_big_md":
            # A start document over 64 KiB: staged, referenced from RunStart.
            RE(count([det], num=3), notes="n" * 70_000)
        elif plan == "failing":
            # A motor fault at the 5th point: the RunEngine stops the run with exit_status "fail".
            done = [0]

            def per_step(detectors, step, pos_cache):
                if done[0] == 4:
                    raise RuntimeError("motor fault at point 5")
                done[0] += 1
                yield from bps.one_nd_step(detectors, step, pos_cache)

            try:
                RE(scan([det], motor, -1, 1, n, per_step=per_step))
            except RuntimeError:
                pass
        else:
            raise SystemExit(f"unknown plan {plan}")
    print(encode_document({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
