#!/usr/bin/env python3
"""Generates src/core/icat/generated-definitions.json from ESRF's hdf5_cfg.xml.

The XML ships in the PyPI package `icat-esrf-definitions` (installed in .venv). Every element that
is not a <group> is one ICAT field: its text `${name}` is the field name, its position under the
`${entry}` group is its HDF5 path, its attributes give the NeXus type (NAPItype), units,
description, mandatory flag (ESRF_mandatory), deprecation note and record time. Top-level
NXsubentry groups are the techniques.

    .venv/bin/python scripts/generate-icat-definitions.py            write the JSON
    .venv/bin/python scripts/generate-icat-definitions.py --check    exit 1 if the committed JSON differs
    .venv/bin/python scripts/generate-icat-definitions.py --stdout   print it (the unit test compares)
"""
import hashlib
import importlib.metadata
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import icat_esrf_definitions

TARGET = Path(__file__).resolve().parent.parent / "src" / "core" / "icat" / "generated-definitions.json"
CATEGORY_ORDER = ["general", "instrumentation", "sample", "positioners", "notes", "techniques"]


def field_name(element: ET.Element, path: str) -> str:
    text = (element.text or "").strip()
    if not (text.startswith("${") and text.endswith("}")):
        raise SystemExit(f"{path}: expected ${{name}} as the text of a field, got {text!r}")
    return text[2:-1]


def categories_of(groups: list) -> list:
    """groups: the (name, NX_class) chain from the entry down to the field's parent."""
    cats = set()
    top = groups[0] if groups else None
    if top is None or top[1] in ("NXprocess",):
        cats.add("general")
    elif top[1] == "NXsubentry":
        cats.add("techniques")
    elif top[0] == "sample":
        cats.add("sample")
    elif top[1] == "NXnote":
        cats.add("notes")
    else:  # instrument and the optics groups at entry level (fresnel_zone_plate, aperture, mirror)
        cats.add("instrumentation")
    if any(cls == "NXpositioner" for _, cls in groups):
        cats.add("positioners")
    if any(cls == "NXnote" for _, cls in groups):
        cats.add("notes")
    return [c for c in CATEGORY_ORDER if c in cats]


def generate() -> dict:
    xml_path = Path(icat_esrf_definitions.DEFINITIONS_FILE)
    raw = xml_path.read_bytes()
    root = ET.fromstring(raw)
    if root.tag != "group" or root.get("NX_class") != "NXentry":
        raise SystemExit("hdf5_cfg.xml: the root is not the ${entry} NXentry group")

    fields: dict = {}
    groups_out: dict = {}
    techniques: dict = {}

    def walk(element: ET.Element, path: list, groups: list, technique):
        for child in element:
            if child.tag == "group":
                name = child.get("groupName")
                cls = child.get("NX_class")
                sub_path = path + [name]
                technique_here = technique
                if not path and cls == "NXsubentry":
                    technique_here = name
                    techniques[name] = {"name": name, "description": child.get("ESRF_description", ""), "fields": []}
                groups_out["/".join(sub_path)] = {"nx_class": cls, "description": child.get("ESRF_description", "")}
                walk(child, sub_path, groups + [(name, cls)], technique_here)
                continue
            hdf5_path = "/".join(path + [child.tag])
            name = field_name(child, hdf5_path)
            attrs = {
                "type": child.get("NAPItype"),
                "units": child.get("units"),
                "description": child.get("ESRF_description", ""),
                "mandatory": child.get("ESRF_mandatory") == "Mandatory",
                "deprecated": child.get("ESRF_deprecated"),
                "record": child.get("record"),
            }
            field = fields.get(name)
            if field is None:
                field = {"name": name, "paths": [], **attrs, "categories": [], "techniques": []}
                fields[name] = field
            else:
                for key in ("type", "units", "mandatory"):
                    if field[key] != attrs[key]:
                        raise SystemExit(f"{name}: {key} differs between {field['paths'][0]} and {hdf5_path}")
            field["paths"].append(hdf5_path)
            field["categories"] = [c for c in CATEGORY_ORDER if c in set(field["categories"]) | set(categories_of(groups))]
            if technique and technique not in field["techniques"]:
                field["techniques"].append(technique)
                techniques[technique]["fields"].append(name)

    walk(root, [], [], None)
    for field in fields.values():
        for key in ("units", "deprecated", "record"):
            if field[key] is None:
                del field[key]
    return {
        "source": {
            "package": "icat-esrf-definitions",
            "version": importlib.metadata.version("icat-esrf-definitions"),
            "file": "icat_esrf_definitions/hdf5_cfg.xml",
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "groups": groups_out,
        "techniques": techniques,
        "fields": sorted(fields.values(), key=lambda f: f["name"]),
    }


def render() -> str:
    return json.dumps(generate(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = render()
    if "--stdout" in sys.argv:
        sys.stdout.write(text)
    elif "--check" in sys.argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            sys.stderr.write(f"{TARGET} is out of date: run .venv/bin/python scripts/generate-icat-definitions.py\n")
            sys.exit(1)
        print("ICAT definitions are up to date")
    else:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
