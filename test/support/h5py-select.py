"""Values of dataset selections as h5py reads them (the judge of the range reader).

    h5py-select.py FILE PATH[@SELECTION] ...   -> JSON {"PATH@SELECTION": [flattened values]}
SELECTION is H5Web's syntax: one item per dimension, ':' or an index ("5,:").
"""
import json
import sys

import h5py
import numpy as np

out = {}
with h5py.File(sys.argv[1], "r") as f:
    for spec in sys.argv[2:]:
        path, _, selection = spec.partition("@")
        d = f[path]
        key = tuple(slice(None) if s == ":" else int(s) for s in selection.split(",")) if selection else ()
        value = np.asarray(d[key] if key else d[()])
        out[spec] = value.ravel().tolist()
json.dump(out, sys.stdout)
