"""Publishes many BLISS scans in one process (blissdata's start-up paid once), for soak runs.

    python publish_many.py --redis URL --scans 50 --first-number 1 -- --type loopscan --points 200 --counters 4 --batch 10

Everything after `--` goes to publish_scan.py for every scan (its --number is set here). Prints one
JSON line: {"scans": N, "run_uids": [...], "channel_points": total}.
"""
import argparse
import contextlib
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_scan  # noqa: E402


def main() -> int:
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", required=True)
    p.add_argument("--scans", type=int, default=10)
    p.add_argument("--first-number", type=int, default=1)
    args = p.parse_args(own)
    uids, points = [], 0
    for i in range(args.scans):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = publish_scan.main(["--redis", args.redis, *rest, "--number", str(args.first_number + i)])
        if code != 0:
            print(f"scan {i} failed with {code}", file=sys.stderr)
            return code
        summary = json.loads(out.getvalue().strip().splitlines()[-1])
        uids.append(summary["run_uid"])
        points += summary["points"] * len(summary["channels"])
    json.dump({"scans": args.scans, "run_uids": uids, "channel_points": points}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as exit_:  # --help, usage errors
        sys.stdout.flush()
        os._exit(exit_.code if isinstance(exit_.code, int) else 2)
    except BaseException:  # blissdata's sink threads would keep a failed process alive
        import traceback
        traceback.print_exc()
        os._exit(1)
    sys.stdout.flush()
    os._exit(code)
