"""
STXM-like runs from a real Bluesky RunEngine with ophyd.sim devices, and the judge of the NXstxm
files exported from them.

    stxm-runs.py generate OUT_DIR
        Runs one plan per STXM scan type (all 13 of suitcase-nxstxm, and a sample image read by a
        4-value detector) with the `stxm` start metadata
        of docs/exports.md and a baseline stream. Writes OUT_DIR/<name>.jsonl (one
        {"name", "doc"} per document, as the RunEngine emitted them) and OUT_DIR/expected.json: for
        each run, the entries an NXstxm export must contain, built from the generator's own
        knowledge of which point it measured where (not from the exporter's planning code).

    stxm-runs.py judge OUT_DIR FILE RUN [RUN ...]
        Reads FILE with h5py and compares every entry, in order, with the expected entries of the
        runs: definition, stxm_scan_type, data (values and dtype), energy/sample_x/sample_y and the
        scan axes, monochromator energy and detector readings per point, rotation angle, times.
        Prints a JSON report; exit status 1 on any mismatch.
"""
import json
import sys
from pathlib import Path

import numpy as np

N_SCAN_TYPES = 13


def generate(out):
    from bluesky import RunEngine
    import bluesky.plan_stubs as bps
    import bluesky.preprocessors as bpp
    from bluesky.preprocessors import SupplementalData
    from ophyd.sim import SynAxis, SynSignal

    motors = {name: SynAxis(name=name) for name in [
        'energy', 'sample_x', 'sample_y', 'coarse_x', 'coarse_y', 'osa_x', 'osa_y', 'zoneplate_z',
        'detector_x', 'detector_y', 'goni_theta', 'epu_polarization']}
    ring = SynAxis(name='ring_current')
    for m, v in [('energy', 700.0), ('sample_x', 0.0), ('sample_y', 0.0), ('coarse_x', 100.0), ('coarse_y', 200.0),
                 ('osa_x', 5.0), ('osa_y', -5.0), ('zoneplate_z', -3800.0), ('detector_x', 1.0), ('detector_y', 2.0),
                 ('goni_theta', 0.0), ('epu_polarization', 0.0)]:
        motors[m].set(v).wait()
    ring.set(400.25).wait()
    counter = [0]

    def count():
        # A value that depends on every position, plus a counter so no two points read the same.
        counter[0] += 1
        p = {k: m.readback.get() for k, m in motors.items()}
        return (p['energy'] * 0.5 + p['sample_x'] * 3.25 + p['sample_y'] * 7.5 + p['osa_x'] + p['osa_y'] * 2
                + p['zoneplate_z'] * 0.01 + p['detector_x'] * 11 + p['detector_y'] * 13 + p['goni_theta'] * 0.1
                + p['epu_polarization'] * 1000 + p['coarse_x'] * 0.3 + p['coarse_y'] * 0.7 + counter[0] / 1024)

    det = SynSignal(func=count, name='counter0')
    # A detector giving 4 values (counts) per point: NXstxm's NXdata holds their sum.
    mca = SynSignal(func=lambda: np.arange(4, dtype=np.int64) * 3 + counter[0] * 10 + int(motors['sample_x'].readback.get() * 4), name='mca')
    RE = RunEngine({})
    RE.preprocessors.append(SupplementalData(baseline=[*motors.values(), ring]))
    positioners = {'energy': 'energy', 'sample_x': 'sample_x', 'sample_y': 'sample_y', 'osa_x': 'osa_x', 'osa_y': 'osa_y',
                   'zoneplate_z': 'zoneplate_z', 'detector_x': 'detector_x', 'detector_y': 'detector_y',
                   'goniometer_theta': 'goni_theta', 'polarization': 'epu_polarization', 'ring_current': 'ring_current'}
    expected = {}

    def grid(x0, nx, y0, ny, dx=0.5, dy=0.25):
        return [(y0 + i * dy, x0 + j * dx) for i in range(ny) for j in range(nx)]

    def run(name, scan_type, moves, read, md_extra, entries, pos=positioners, title=None, detector='counter0'):
        """moves: list of {motor: value}; entries: list of entry specs with point indices into moves."""
        docs = []
        token = RE.subscribe(lambda n, d: docs.append({'name': n, 'doc': d}))
        devices = [motors[m] for m in read]
        detector_device = mca if detector == 'mca' else det

        @bpp.run_decorator(md={'title': title or f'{scan_type} test', 'beamline_id': 'SM-STXM', 'facility': 'Test Light Source',
                               'stxm': {'scan_type': scan_type, 'detector': detector, 'positioners': pos, **md_extra}})
        def plan():
            for move in moves:
                args = []
                for m, v in move.items():
                    args += [motors[m], v]
                yield from bps.mv(*args)
                if detector == 'mca':
                    counter[0] += 1
                yield from bps.trigger_and_read([detector_device, *devices])

        RE(plan())
        RE.unsubscribe(token)
        with open(out / f'{name}.jsonl', 'w') as f:
            for d in docs:
                f.write(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, 'tolist') else str(o)) + '\n')
        primary = [d['doc'] for d in docs if d['name'] == 'event' and d['doc']['descriptor'] == next(
            x['doc']['uid'] for x in docs if x['name'] == 'descriptor' and x['doc']['name'] == 'primary')]
        baseline_desc = next(x['doc']['uid'] for x in docs if x['name'] == 'descriptor' and x['doc']['name'] == 'baseline')
        baseline = [d['doc'] for d in docs if d['name'] == 'event' and d['doc']['descriptor'] == baseline_desc]
        start = docs[0]['doc']
        stop = next(d['doc'] for d in docs if d['name'] == 'stop')
        value = lambda key, i: primary[i]['data'][key] if key in primary[i]['data'] else baseline[0]['data'][key]
        out_entries = []
        for e in entries:
            pts = e['points']  # nested list of point indices in the shape of the NXdata data
            flat = list(np.array(pts).ravel())
            spec = {
                'run': start['uid'], 'stxm_scan_type': e['type'], 'shape': list(np.array(pts).shape),
                'data': [float(np.sum(primary[i]['data'][detector])) for i in flat],
                'detector_key': detector,
                'detector': [np.asarray(primary[i]['data'][detector]).tolist() for i in sorted(flat)],
                'mono_energy': [value('energy', i) for i in sorted(flat)],
                'axes': e['axes'],
                'fields': {k: [value(pos[k] if k in pos else k, i) for i in idx] for k, idx in e['fields'].items()},
                'rotation_angle': value('goni_theta', flat[0]),
                # every positioner read at each point: its NXdetector holds the entry's points in order
                'instrument': {logical: [primary[i]['data'][key] for i in sorted(flat)]
                               for logical, key in pos.items() if key in primary[0]['data'] and logical not in ('energy', 'polarization', 'ring_current')},
                'polarization': value('epu_polarization', flat[0]),
                'baseline': {key: [ev['data'][key] for ev in baseline] for key in baseline[0]['data']},
                'start_time': start['time'], 'end_time': stop['time'],
            }
            out_entries.append(spec)
        expected[name] = {'uid': start['uid'], 'entries': out_entries}

    # sample image: two regions (4x3 and 2x2) at one energy.
    regions = [(0.0, 4, 1.0, 3), (10.0, 2, 12.0, 2)]
    moves, entries, offset = [], [], 0
    for (x0, nx, y0, ny) in regions:
        moves += [{'sample_x': x, 'sample_y': y} for (y, x) in grid(x0, nx, y0, ny)]
        pts = [[offset + i * nx + j for j in range(nx)] for i in range(ny)]
        entries.append({'type': 'sample image', 'points': pts, 'axes': ['sample_y', 'sample_x'],
                        'fields': {'sample_y': [r[0] for r in pts], 'sample_x': pts[0], 'energy': [offset]}})
        offset += nx * ny
    run('sample_image', 'sample_image', moves, ['sample_x', 'sample_y'],
        {'regions': [{'x_points': r[1], 'y_points': r[3]} for r in regions]}, entries)
    # The same image with the 4-value detector.
    run('sample_image_mca', 'sample_image', moves, ['sample_x', 'sample_y'],
        {'regions': [{'x_points': r[1], 'y_points': r[3]} for r in regions]}, entries, detector='mca')

    def stack(name, scan_type, angles, energies, pols, nx, ny, nxtype):
        moves, index = [], {}
        for a, th in enumerate(angles):
            for e, ev in enumerate(energies):
                for p, pol in enumerate(pols):
                    for k, (y, x) in enumerate(grid(2.0, nx, -1.0, ny)):
                        index[(a, e, p, k)] = len(moves)
                        move = {'energy': ev, 'epu_polarization': pol, 'sample_x': x, 'sample_y': y}
                        if scan_type == 'tomography':
                            move['goni_theta'] = th
                        moves.append(move)
        entries = []
        for a in range(len(angles)):
            for p in range(len(pols)):
                pts = [[[index[(a, e, p, i * nx + j)] for j in range(nx)] for i in range(ny)] for e in range(len(energies))]
                entries.append({'type': nxtype, 'points': pts, 'axes': ['energy', 'sample_y', 'sample_x'],
                                'fields': {'energy': [pts[e][0][0] for e in range(len(energies))],
                                           'sample_y': [pts[0][i][0] for i in range(ny)], 'sample_x': pts[0][0]}})
        md = {'energies': len(energies), 'polarizations': len(pols), 'regions': [{'x_points': nx, 'y_points': ny}]}
        if scan_type == 'tomography':
            md['angles'] = len(angles)
        read = ['energy', 'epu_polarization', 'sample_x', 'sample_y'] + (['goni_theta'] if scan_type == 'tomography' else [])
        run(name, scan_type, moves, read, md, entries)

    stack('sample_image_stack', 'sample_image_stack', [0.0], [700.0, 705.5, 710.25], [0.0, 1.0], 4, 3, 'sample image stack')
    stack('tomography', 'tomography', [-30.0, 0.0, 30.0], [700.0, 702.0], [0.0], 3, 3, 'sample image stack')

    # An image stack recorded as one run per image (pyStxm / suitcase-nxstxm style): 3 energies ×
    # 2 polarizations, each run one 3×2 image, tied together by stxm.stack. Recorded out of order.
    nx, ny, energies, pols = 3, 2, [700.0, 701.5, 703.0], [0.0, 1.0]
    order = [(e, p) for p in range(2) for e in range(3)]
    for e, p in order:
        moves = [{'energy': energies[e], 'epu_polarization': pols[p], 'sample_x': x, 'sample_y': y} for (y, x) in grid(4.0, nx, 6.0, ny)]
        run(f'stack_part_e{e}_p{p}', 'sample_image_stack', moves, ['energy', 'epu_polarization', 'sample_x', 'sample_y'],
            {'regions': [{'x_points': nx, 'y_points': ny}], 'stack': {'id': 'stack-A', 'energy': e, 'polarization': p}}, [])
    parts = {}
    for e, p in order:
        docs = [json.loads(l) for l in open(out / f'stack_part_e{e}_p{p}.jsonl')]
        desc = {d['doc']['uid']: d['doc']['name'] for d in docs if d['name'] == 'descriptor'}
        parts[(e, p)] = {
            'start': docs[0]['doc'], 'stop': next(d['doc'] for d in docs if d['name'] == 'stop'),
            'primary': [d['doc'] for d in docs if d['name'] == 'event' and desc[d['doc']['descriptor']] == 'primary'],
            'baseline': [d['doc'] for d in docs if d['name'] == 'event' and desc[d['doc']['descriptor']] == 'baseline'],
        }
    first, last = parts[order[0]], parts[order[-1]]
    stack_entries = []
    for p in range(2):
        image = lambda e: parts[(e, p)]['primary']
        chrono = [ev for e in range(3) for ev in image(e)]
        stack_entries.append({
            'run': parts[(0, 0)]['start']['uid'], 'stxm_scan_type': 'sample image stack', 'shape': [3, ny, nx],
            'data': [ev['data']['counter0'] for ev in chrono], 'detector_key': 'counter0',
            'detector': [ev['data']['counter0'] for ev in chrono], 'mono_energy': [ev['data']['energy'] for ev in chrono],
            'axes': ['energy', 'sample_y', 'sample_x'],
            'fields': {'energy': [energies[e] for e in range(3)], 'sample_y': [image(0)[i * nx]['data']['sample_y'] for i in range(ny)],
                       'sample_x': [image(0)[j]['data']['sample_x'] for j in range(nx)]},
            'rotation_angle': first['baseline'][0]['data']['goni_theta'],
            'instrument': {k: [ev['data'][k] for ev in chrono] for k in ('sample_x', 'sample_y')},
            'polarization': image(0)[0]['data']['epu_polarization'],
            'baseline': {k: [first['baseline'][0]['data'][k], last['baseline'][-1]['data'][k]] for k in first['baseline'][0]['data']},
            'start_time': first['start']['time'], 'end_time': last['stop']['time'],
        })
    expected['stack_runs'] = {'uid': parts[(0, 0)]['start']['uid'], 'entries': stack_entries,
                              'runs': [f'stack_part_e{e}_p{p}' for e, p in order]}

    # point spectra: 3 points × 4 energies, energy outermost.
    points = [(1.0, 2.0), (3.5, -1.0), (0.25, 0.75)]
    energies = [690.0, 695.0, 700.0, 705.0]
    moves, index = [], {}
    for e, ev in enumerate(energies):
        for r, (x, y) in enumerate(points):
            index[(e, r)] = len(moves)
            moves.append({'energy': ev, 'sample_x': x, 'sample_y': y})
    entries = [{'type': 'sample point spectrum', 'points': [index[(e, r)] for e in range(len(energies))], 'axes': ['energy'],
                'fields': {'energy': [index[(e, r)] for e in range(len(energies))], 'sample_x': [index[(0, r)]], 'sample_y': [index[(0, r)]]}}
               for r in range(len(points))]
    run('sample_point_spectra', 'sample_point_spectrum', moves, ['energy', 'sample_x', 'sample_y'],
        {'energies': len(energies), 'regions': [{} for _ in points]}, entries)

    # line spectrum: a diagonal line of 5 points × 3 energies.
    line = [(0.5 * i, 0.25 * i) for i in range(5)]
    energies = [700.0, 710.0, 720.0]
    moves = [{'energy': ev, 'sample_x': x, 'sample_y': y} for ev in energies for (x, y) in line]
    pts = [[e * 5 + i for i in range(5)] for e in range(3)]
    run('sample_line_spectrum', 'sample_line_spectrum', moves, ['energy', 'sample_x', 'sample_y'],
        {'energies': 3, 'regions': [{'points': 5}]},
        [{'type': 'sample line spectrum', 'points': pts, 'axes': ['energy', 'line_position'],
          'fields': {'energy': [pts[e][0] for e in range(3)], 'sample_x': pts[0], 'sample_y': pts[0]}}])

    # focus scans: 4 zone plate positions × a line of 5 points.
    for name, nxtype, xs, ys in [('sample_focus', 'sample focus', 'sample_x', 'sample_y'), ('osa_focus', 'osa focus', 'osa_x', 'osa_y')]:
        zs = [-3810.0, -3805.0, -3800.0, -3795.0]
        moves = [{'zoneplate_z': z, xs: 1.0 + 0.5 * i, ys: 2.0 - 0.5 * i} for z in zs for i in range(5)]
        pts = [[k * 5 + i for i in range(5)] for k in range(4)]
        fields = {'zoneplate_z': [pts[k][0] for k in range(4)], xs: pts[0], ys: pts[0], 'energy': [0]}
        if xs != 'sample_x':
            fields.update({'sample_x': [0], 'sample_y': [0]})
        run(name, name, moves, ['zoneplate_z', xs, ys], {'focus_points': 4, 'regions': [{'points': 5}]},
            [{'type': nxtype, 'points': pts, 'axes': ['zoneplate_z', 'line_position'], 'fields': fields}])

    # 2-D images of other stages (one region each).
    for name, scan_type, nxtype, xs, ys, pos in [
        ('osa_image', 'osa_image', 'osa image', 'osa_x', 'osa_y', positioners),
        ('detector_image', 'detector_image', 'detector image', 'detector_x', 'detector_y', positioners),
        ('coarse_image', 'coarse_image', 'sample image', 'coarse_x', 'coarse_y', {**positioners, 'sample_x': 'coarse_x', 'sample_y': 'coarse_y'}),
        ('coarse_goni', 'coarse_goni', 'sample image', 'sample_x', 'sample_y', positioners),
        ('pattern_gen', 'pattern_gen', 'sample image', 'sample_x', 'sample_y', positioners),
    ]:
        nx, ny = 3, 2
        moves = [{xs: x, ys: y} for (y, x) in grid(0.5, nx, 1.5, ny)]
        pts = [[i * nx + j for j in range(nx)] for i in range(ny)]
        logical_x = 'sample_x' if xs in ('coarse_x', 'sample_x') else xs
        logical_y = 'sample_y' if ys in ('coarse_y', 'sample_y') else ys
        fields = {logical_y: [r[0] for r in pts], logical_x: pts[0], 'energy': [0]}
        fields.setdefault('sample_x', [0])
        fields.setdefault('sample_y', [0])
        run(name, scan_type, moves, [xs, ys], {'regions': [{'x_points': nx, 'y_points': ny}]},
            [{'type': nxtype, 'points': pts, 'axes': [logical_y, logical_x], 'fields': fields}], pos=pos)

    # generic scan: one positioner (the zone plate) over 6 points.
    moves = [{'zoneplate_z': -3800.0 + 2.5 * i} for i in range(6)]
    run('generic_scan', 'generic_scan', moves, ['zoneplate_z'], {'scanned': 'zoneplate_z'},
        [{'type': 'generic scan', 'points': list(range(6)), 'axes': ['zoneplate_z'],
          'fields': {'zoneplate_z': list(range(6)), 'energy': [0], 'sample_x': [0], 'sample_y': [0]}}])

    assert len({v['entries'][0]['stxm_scan_type'] for v in expected.values() if v['entries']}) == 9
    (out / 'expected.json').write_text(json.dumps(expected, indent=1))
    print(json.dumps({name: len(v['entries']) for name, v in expected.items()}))


def judge(out, path, names):
    import h5py
    expected = json.loads((out / 'expected.json').read_text())
    specs = [e for name in names for e in expected[name]['entries']]
    problems = []
    checked = 0

    def same(where, got, want, dtype=None):
        nonlocal checked
        got = np.asarray(got)
        want = np.asarray(want)
        checked += want.size
        if got.shape != want.shape or not np.array_equal(got, want):
            problems.append(f'{where}: {got.tolist()} != {want.tolist()}')
        if dtype is not None and got.dtype != np.dtype(dtype):
            problems.append(f'{where}: dtype {got.dtype} != {dtype}')

    with h5py.File(path, 'r') as f:
        entries = sorted((k for k in f if f[k].attrs.get('NX_class') == 'NXentry'), key=lambda k: int(k[5:]))
        if len(entries) != len(specs):
            problems.append(f'{len(entries)} entries, expected {len(specs)}')
        for name, spec in zip(entries, specs):
            e = f[name]
            text = lambda p: e[p][()].decode() if isinstance(e[p][()], bytes) else str(e[p][()])
            if text('definition') != 'NXstxm':
                problems.append(f'{name}/definition')
            if text('entry_identifier') != spec['run']:
                problems.append(f'{name}: run {text("entry_identifier")} != {spec["run"]}')
            if text('data/stxm_scan_type') != spec['stxm_scan_type']:
                problems.append(f'{name}/data/stxm_scan_type {text("data/stxm_scan_type")} != {spec["stxm_scan_type"]}')
            data = e['data']
            same(f'{name}/data/data', data['data'][()], np.array(spec['data']).reshape(spec['shape']), 'float64')
            axes = [a.decode() if isinstance(a, bytes) else str(a) for a in np.atleast_1d(data.attrs['axes'])]
            if axes != spec['axes']:
                problems.append(f'{name}/data@axes {axes} != {spec["axes"]}')
            for field, values in spec['fields'].items():
                same(f'{name}/data/{field}', data[field][()], values)
            same(f'{name}/instrument/monochromator/energy', e['instrument/monochromator/energy'][()], spec['mono_energy'])
            same(f'{name}/instrument/{spec["detector_key"]}/data', e[f'instrument/{spec["detector_key"]}/data'][()], spec['detector'])
            same(f'{name}/sample/rotation_angle', e['sample/rotation_angle'][()], spec['rotation_angle'])
            same(f'{name}/instrument/epu_polarization/value', e['instrument/epu_polarization/value'][()], spec['polarization'])
            groups = sorted(k for k in e['instrument'] if e['instrument'][k].attrs.get('NX_class') == 'NXdetector' and k != spec['detector_key'])
            if groups != sorted(spec['instrument']):
                problems.append(f'{name}/instrument detectors {groups} != {sorted(spec["instrument"])}')
            for logical, values in spec['instrument'].items():
                same(f'{name}/instrument/{logical}/data', e[f'instrument/{logical}/data'][()], values)
            collection = {ds.attrs['data_key']: ds[()] for ds in e['collection'].values()}
            if sorted(collection) != sorted(spec['baseline']):
                problems.append(f'{name}/collection keys {sorted(collection)} != {sorted(spec["baseline"])}')
            for key, values in spec['baseline'].items():
                same(f'{name}/collection[{key}]', collection.get(key, []), values)
            for key in ('start_time', 'end_time'):
                got = np.datetime64(text(key).rstrip('Z'), 'ms')
                want = np.datetime64(int(round(spec[key] * 1000)), 'ms')
                if abs(int((got - want) / np.timedelta64(1, 'ms'))) > 1:
                    problems.append(f'{name}/{key} {got} != {want}')
    print(json.dumps({'entries': len(specs), 'values': checked, 'problems': problems[:20]}))
    return 1 if problems else 0


if __name__ == '__main__':
    command, directory = sys.argv[1], Path(sys.argv[2])
    if command == 'generate':
        directory.mkdir(parents=True, exist_ok=True)
        generate(directory)
    elif command == 'judge':
        sys.exit(judge(directory, sys.argv[3], sys.argv[4:]))
    else:
        sys.exit(f'unknown command {command}')
