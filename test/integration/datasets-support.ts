/** Helpers for the dataset tests: a recording bus publisher and the master file read back with h5py. */
import { spawnSync } from 'node:child_process';
import { venvPython } from '../../local/services.js';
import type { EventPublisher, OutgoingEvent, PublishOutcome } from '../../src/core/ports.js';

export class RecordingPublisher implements EventPublisher {
  readonly events: OutgoingEvent[] = [];
  async publish(events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    this.events.push(...events);
    return { accepted: events.length, rejected: [] };
  }
  ofType(detailType: string): OutgoingEvent[] {
    return this.events.filter((e) => e.detailType === detailType);
  }
}

/** What h5py sees in a master file (the judge is not the code that wrote it). */
export interface MasterDump {
  attrs: Record<string, string>;
  /** Top-level names → link kind, target and whether it resolves (the linked entry's NX_class and title). */
  entries: Record<string, { kind: string; file?: string; path?: string; resolves: boolean; nx_class?: string; title?: string }>;
  /** Every dataset below the metadata entry: value (str or number/list) and units. */
  fields: Record<string, { value: unknown; units?: string }>;
  groups: Record<string, string>;
}

const READER = `
import json, os, sys
import h5py, numpy as np
path, entry_name = sys.argv[1], sys.argv[2]
os.chdir(os.path.dirname(os.path.abspath(path)))
out = {"attrs": {}, "entries": {}, "fields": {}, "groups": {}}
def plain(v):
    if isinstance(v, bytes): return v.decode()
    if isinstance(v, np.ndarray): return [plain(x) for x in v.tolist()]
    if isinstance(v, np.generic): return v.item()
    return v
with h5py.File(os.path.basename(path), "r") as f:
    out["attrs"] = {k: plain(v) for k, v in f.attrs.items()}
    for name in f:
        link = f.get(name, getlink=True)
        info = {"kind": type(link).__name__}
        if isinstance(link, h5py.ExternalLink):
            info["file"], info["path"] = link.filename, link.path
        try:
            target = f[name]
            info["resolves"] = True
            info["nx_class"] = plain(target.attrs.get("NX_class"))
            if "title" in target: info["title"] = plain(target["title"][()])
        except (KeyError, OSError):
            info["resolves"] = False
        out["entries"][name] = info
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            d = {"value": plain(obj.asstr()[()] if obj.dtype.kind in "OS" else obj[()])}
            if "units" in obj.attrs: d["units"] = plain(obj.attrs["units"])
            out["fields"][name] = d
        else:
            out["groups"][name] = plain(obj.attrs.get("NX_class"))
    f[entry_name].visititems(visit)
print(json.dumps(out))
`;

export function readMaster(path: string, metadataEntry = 'dataset'): MasterDump {
  const result = spawnSync(venvPython, ['-c', READER, path, metadataEntry], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`h5py could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as MasterDump;
}
