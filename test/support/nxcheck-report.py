"""Judges a NeXus file with nexusformat's nxcheck (base classes) and reads every object back with h5py.

usage: nxcheck-report.py FILE.h5

Runs nxcheck's own entry point (nexusformat.scripts.nxcheck.main, exactly what the `nxcheck FILE`
command runs: no -a, so the file is checked against the NeXus base classes) and captures what it
logs with a handler on its logger, so each finding keeps its level and the path it is about
instead of being parsed back from coloured text. Then opens the file with h5py and reads every
dataset and attribute in full, resolving every soft link.

Prints JSON:
  {"nxcheck": {"version", "errors": [{"path", "message"[, "nxdl_valid_item_name"]}], "warnings": [...],
               "totals": {"error", "warning"}},
   "h5py": {"groups", "datasets", "links", "attributes", "problems": [...]}}
Exit 0 when both ran (findings are for the caller to judge), 2 when either could not run.
"""
import json
import logging
import re
import sys
from contextlib import redirect_stdout

import h5py
import numpy as np

HEADER = re.compile(r"^\s*(?:Field|Attribute|Link|NX[A-Za-z_]+): (/\S*)\s*$")
INVALID_NAME = re.compile(r'^"(.*)" is an invalid name$')


def standard_name_pattern():
    """The NeXus standard's rule for names: validItemName of the nxdl.xsd that nexusformat ships."""
    from pathlib import Path
    import xml.etree.ElementTree as ET

    from nexusformat.nexus.utils import get_definitions

    xsd = Path(get_definitions()) / "nxdl.xsd"
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    node = ET.parse(xsd).getroot().find("xs:simpleType[@name='validItemName']/xs:restriction/xs:pattern", ns)
    if node is None:
        raise RuntimeError(f"no validItemName pattern in {xsd}")
    return re.compile(node.get("value"))


class Capture(logging.Handler):
    """Keeps nxcheck's findings with their level and the path of the object they are about."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.path = None
        self.errors = []
        self.warnings = []

    def emit(self, record):
        text = record.getMessage()
        if record.levelno >= logging.CRITICAL:  # nxcheck logs headers ("NXentry: /1.1", "Field: /1.1/title") at CRITICAL
            match = HEADER.match(text)
            if match:
                self.path = match.group(1)
            return
        finding = {"path": self.path, "message": text.strip()}
        if record.levelno >= logging.ERROR:
            self.errors.append(finding)
        elif record.levelno >= logging.WARNING:
            self.warnings.append(finding)


def run_nxcheck(path):
    import nexusformat
    from nexusformat.nexus.validate import logger
    from nexusformat.scripts import nxcheck

    capture = Capture()
    # nxcheck's own handler writes its text report to the stdout it saw at import: send it to
    # stderr for the time of the run (ours is the JSON), keeping the text for a person to read.
    streams = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(sys.stderr) for h in streams]
    logger.addHandler(capture)
    argv = sys.argv
    sys.argv = ["nxcheck", path]
    try:
        with redirect_stdout(sys.stderr):
            nxcheck.main()
    finally:
        sys.argv = argv
        logger.removeHandler(capture)
        for handler, stream in zip(streams, previous):
            handler.setStream(stream)
    totals = dict(getattr(logger, "total", {}))
    # nxcheck tests names against a stricter pattern than the standard's schema: say, for each
    # "invalid name" error, whether the name is valid by the NeXus standard (nxdl.xsd validItemName).
    pattern = standard_name_pattern()
    for finding in capture.errors:
        match = INVALID_NAME.match(finding["message"])
        if match:
            finding["nxdl_valid_item_name"] = bool(pattern.fullmatch(match.group(1)))
    return {"version": nexusformat.__version__, "errors": capture.errors, "warnings": capture.warnings, "totals": totals}


def read_back(path):
    counts = {"groups": 0, "datasets": 0, "links": 0, "attributes": 0}
    problems = []

    def read_attrs(name, obj):
        for key in obj.attrs:
            try:
                obj.attrs[key]
                counts["attributes"] += 1
            except Exception as error:  # noqa: BLE001 - every unreadable attribute is a finding
                problems.append(f"{name}@{key}: {error}")

    with h5py.File(path, "r") as f:
        read_attrs("/", f)

        def visit(name, link):
            full = f"/{name}"
            if isinstance(link, h5py.SoftLink):
                counts["links"] += 1
                if link.path not in f:
                    problems.append(f"{full}: soft link to {link.path}, which does not exist")
                    return
            elif isinstance(link, h5py.ExternalLink):
                counts["links"] += 1
                return
            try:
                obj = f[full]
            except Exception as error:  # noqa: BLE001
                problems.append(f"{full}: cannot open: {error}")
                return
            read_attrs(full, obj)
            if isinstance(obj, h5py.Dataset):
                counts["datasets"] += 1
                try:
                    value = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
                    if isinstance(value, np.ndarray) and value.size != int(np.prod(obj.shape)):
                        problems.append(f"{full}: read {value.size} values, shape {obj.shape}")
                except Exception as error:  # noqa: BLE001
                    problems.append(f"{full}: cannot read: {error}")
            else:
                counts["groups"] += 1

        f.visititems_links(visit)
    return {**counts, "problems": problems}


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        report = {"nxcheck": run_nxcheck(argv[0]), "h5py": read_back(argv[0])}
    except Exception as error:  # noqa: BLE001 - a judge that cannot run is a failure, said clearly
        print(f"nxcheck-report: {argv[0]}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
