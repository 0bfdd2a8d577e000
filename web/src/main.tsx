/**
 * The portal: sign in, proposals → datasets → scans → a scan file in H5Web (read by range through
 * its index, docs/adr/0009) → exports. Routes live in the URL hash (`#/dataset/<id>`, `#/file/<id>/<run>?path=…`),
 * so every view is a link that survives a reload.
 */
import '@h5web/app/styles.css';
import './portal.css';
import { App as H5Web, DataProvider } from '@h5web/app';
import { StrictMode, useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { httpRangeSource, IndexedFile, parseFileIndex } from '../../src/client/indexed-file-reader.js';
import {
  ApiError, call, idPath, session, signIn,
  type DatasetRecord, type DatasetScan, type ExportStatus, type ScanFileLinks,
} from './api.js';
import { IndexedProvider } from './indexed-provider.js';

interface Route { view: string; parts: string[]; query: URLSearchParams }

function parseRoute(): Route {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = hash.split('?');
  const [view = '', ...parts] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { view, parts, query: new URLSearchParams(search) };
}

const link = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join('/')}`;

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const update = () => setRoute(parseRoute());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** Loads with `load`, again every `pollMs` when given; errors are shown as sentences. */
function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    let live = true;
    const run = () => load().then((data) => live && setState({ data }), (e: unknown) => live && setState({ error: (e as Error).message }));
    void run();
    const timer = pollMs ? setInterval(run, pollMs) : undefined;
    return () => { live = false; if (timer) clearInterval(timer); };
  }, deps);
  return state;
}

function Failure({ message }: { message: string }) {
  return <p role="alert" className="error">{message}</p>;
}

function Layout({ children, crumbs }: { children: ReactNode; crumbs: [string, string][] }) {
  const claims = session.claims();
  return (
    <div className="portal">
      <header>
        <nav aria-label="breadcrumb">
          <a href="#/">Proposals</a>
          {crumbs.map(([label, href]) => <span key={href}> › <a href={href}>{label}</a></span>)}
        </nav>
        {claims && (
          <span className="who">
            {claims.preferred_username}{' '}
            <button type="button" onClick={() => { session.clear(); window.location.hash = '#/'; window.location.reload(); }}>Sign out</button>
          </span>
        )}
      </header>
      <main>{children}</main>
    </div>
  );
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn(name).then(onDone, (err: unknown) => setError((err as Error).message));
  };
  return (
    <form className="sign-in" onSubmit={submit} aria-label="sign in">
      <h1>Sign in</h1>
      <label>User name <input autoFocus name="username" value={name} onChange={(e) => setName(e.target.value)} /></label>
      <button type="submit">Sign in</button>
      {error && <Failure message={error} />}
    </form>
  );
}

function Proposals() {
  const claims = session.claims() ?? {};
  const [typed, setTyped] = useState('');
  return (
    <Layout crumbs={[]}>
      <h1>Your proposals</h1>
      <ul className="list">
        {(claims.proposals ?? []).map((p) => <li key={p}><a href={link('proposal', p)}>{p}</a></li>)}
      </ul>
      {(claims.proposals ?? []).length === 0 && <p>Your identity lists no proposal.</p>}
      <form onSubmit={(e) => { e.preventDefault(); window.location.hash = link('proposal', typed.trim()); }}>
        <label>Open a proposal <input name="proposal" value={typed} onChange={(e) => setTyped(e.target.value)} /></label>
        <button type="submit">Open</button>
      </form>
    </Layout>
  );
}

/**
 * Whether the signed-in person's claims give them more than public access to a proposal: a member,
 * beamline staff (their beamline's datasets of any proposal) or an administrator. Display only: the
 * APIs decide; this only words an empty, filtered list as the refusal it is.
 */
function mayBrowse(proposal: string): boolean {
  const claims = session.claims() ?? {};
  return (claims.proposals ?? []).includes(proposal) || (claims.beamlines ?? []).length > 0 || (claims.roles ?? []).includes('archive-admin');
}

function Datasets({ proposal, query }: { proposal: string; query: URLSearchParams }) {
  const [filters, setFilters] = useState({ sample: query.get('sample') ?? '', from: query.get('from') ?? '', to: query.get('to') ?? '', technique: query.get('technique') ?? '', title: query.get('title') ?? '' });
  const params = new URLSearchParams({ proposal });
  if (filters.sample) params.set('sample', filters.sample);
  if (filters.from) params.set('from', filters.from);
  if (filters.to) params.set('to', filters.to);
  const { data, error } = useLoad(() => call<{ datasets: DatasetRecord[] }>('datasetApi', `/datasets?${params}`, `proposal ${proposal}`), [proposal, filters.sample, filters.from, filters.to], 5000);
  const shown = (data?.datasets ?? []).filter((d) => (!filters.technique || d.techniques.some((t) => t.toLowerCase().includes(filters.technique.toLowerCase())))
    && (!filters.title || `${d.collection} ${d.dataset} ${Object.values(d.metadata).join(' ')}`.toLowerCase().includes(filters.title.toLowerCase())));
  const field = (name: keyof typeof filters, label: string, type = 'text') => (
    <label>{label} <input name={name} type={type} value={filters[name]} onChange={(e) => setFilters({ ...filters, [name]: e.target.value })} /></label>
  );
  return (
    <Layout crumbs={[[`Proposal ${proposal}`, link('proposal', proposal)]]}>
      <h1>Datasets of proposal {proposal}</h1>
      <form className="search" role="search" onSubmit={(e) => e.preventDefault()}>
        {field('sample', 'Sample')}{field('title', 'Title')}{field('technique', 'Technique')}{field('from', 'From', 'date')}{field('to', 'To', 'date')}
      </form>
      {error && <Failure message={error} />}
      {!error && data && data.datasets.length === 0 && !mayBrowse(proposal) && (
        <Failure message={`You have no access to proposal ${proposal}: your identity does not name you a member of it (the archive lists only what you may read).`} />
      )}
      <table>
        <thead><tr><th>Dataset</th><th>Sample</th><th>Techniques</th><th>State</th><th>Started</th></tr></thead>
        <tbody>
          {shown.map((d) => (
            <tr key={d.id}>
              <td><a href={link('dataset', d.id)}>{d.collection}/{d.dataset}</a></td>
              <td>{d.metadata.Sample_name ?? ''}</td><td>{d.techniques.join(', ')}</td><td>{d.state}</td><td>{d.start_date}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && shown.length === 0 && <p>No dataset matches.</p>}
    </Layout>
  );
}

function Dataset({ id }: { id: string }) {
  const record = useLoad(() => call<DatasetRecord>('datasetApi', `/datasets/${idPath(id)}`, `dataset ${id}`), [id]);
  // A scan being archived appears within seconds: the list is asked again every 3 s.
  const scans = useLoad(() => call<{ scans: DatasetScan[] }>('datasetApi', `/datasets/${idPath(id)}/scans`, `dataset ${id}`), [id], 3000);
  const d = record.data;
  const missing = d?.missing ? JSON.stringify(d.missing) : 'none recorded';
  return (
    <Layout crumbs={[[`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)], [id.split('/').slice(3).join('/'), link('dataset', id)]]}>
      <h1>Dataset {id}</h1>
      {record.error && <Failure message={record.error} />}
      {d && (
        <dl className="facts">
          <dt>State</dt><dd>{d.state}</dd>
          <dt>Techniques</dt><dd>{d.techniques.join(', ') || 'none'}</dd>
          <dt>Missing fields</dt><dd>{missing}</dd>
          <dt>Master file</dt><dd>{d.master_file ? (typeof d.master_file === 'string' ? d.master_file : d.master_file.key) : 'not written (dataset open)'}</dd>
          {Object.entries(d.metadata).map(([k, v]) => <FragmentRow key={k} name={k} value={v} />)}
        </dl>
      )}
      <h2>Scans</h2>
      {scans.error && <Failure message={scans.error} />}
      <table>
        <thead><tr><th>#</th><th>Title</th><th>Started</th><th>State</th><th>File</th></tr></thead>
        <tbody>
          {(scans.data?.scans ?? []).map((s) => (
            <tr key={s.runUid}>
              <td>{s.scanNumber}</td>
              <td><a href={link('scan', id, s.runUid)}>{s.title ?? s.runUid}</a></td>
              <td>{s.startTime ?? ''}</td><td>{s.fileKey ? 'ARCHIVED' : 'RECORDING'}</td>
              <td>{s.fileKey ? <a href={link('file', id, s.runUid)}>open in viewer</a> : '…'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

function FragmentRow({ name, value }: { name: string; value: string }) {
  return <><dt>{name}</dt><dd>{value}</dd></>;
}

function Scan({ id, run }: { id: string; run: string }) {
  const scans = useLoad(() => call<{ scans: DatasetScan[] }>('datasetApi', `/datasets/${idPath(id)}/scans`, `dataset ${id}`), [id], 3000);
  const scan = scans.data?.scans.find((s) => s.runUid === run);
  return (
    <Layout crumbs={[[`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)], [id.split('/').slice(3).join('/'), link('dataset', id)], [`scan ${scan?.scanNumber ?? run}`, link('scan', id, run)]]}>
      <h1>Scan {scan?.scanNumber} {scan?.title}</h1>
      {scans.error && <Failure message={scans.error} />}
      {scan && (
        <dl className="facts">
          <dt>Run</dt><dd>{scan.runUid}</dd><dt>Started</dt><dd>{scan.startTime}</dd>
          <dt>State</dt><dd>{scan.fileKey ? 'ARCHIVED' : 'RECORDING'}</dd><dt>File</dt><dd>{scan.fileKey ?? 'not yet'}</dd><dt>sha256</dt><dd>{scan.fileSha256 ?? ''}</dd>
        </dl>
      )}
      {scan?.fileKey && <p><a href={link('file', id, run)}>Open the file in the viewer</a></p>}
      {scan?.fileKey && <Lineage run={run} />}
      {scan?.fileKey && <Export run={run} />}
    </Layout>
  );
}

interface LineageAnswer { entity: string; direction: string; nodes?: { entity: string; depth?: number }[]; entities?: unknown[] }

/** Ancestors and descendants of the run (analysis-api lineage) and its PROV-JSON. */
function Lineage({ run }: { run: string }) {
  const entity = `run:${run}`;
  const load = (direction: string) => call<LineageAnswer>('analysisApi', `/lineage?entity=${encodeURIComponent(entity)}&direction=${direction}`, `the lineage of run ${run}`);
  const ancestors = useLoad(() => load('ancestors'), [run]);
  const descendants = useLoad(() => load('descendants'), [run]);
  const [error, setError] = useState<string>();
  const names = (a?: LineageAnswer) => JSON.stringify(a ?? {}).match(/"(run:|dataset:|export:|file:s3:\/\/)[^"]+"/g)?.map((x) => x.slice(1, -1)).filter((x, i, all) => x !== entity && all.indexOf(x) === i) ?? [];
  const download = async () => {
    try {
      const prov = await call<unknown>('analysisApi', `/prov?entity=${encodeURIComponent(entity)}&direction=both`, `the provenance of run ${run}`);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([JSON.stringify(prov, null, 2)], { type: 'application/json' }));
      a.download = `${run}.prov.json`;
      a.click();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section aria-label="lineage">
      <h2>Lineage</h2>
      {(ancestors.error ?? descendants.error) && <Failure message={(ancestors.error ?? descendants.error)!} />}
      <dl className="facts">
        <dt>Ancestors</dt><dd>{ancestors.data ? names(ancestors.data).join(', ') || 'none' : '…'}</dd>
        <dt>Descendants</dt><dd><ul className="lineage">{names(descendants.data).map((n) => <li key={n}>{n}</li>)}</ul></dd>
      </dl>
      <button type="button" onClick={() => void download()}>Download PROV-JSON</button>
      {error && <Failure message={error} />}
    </section>
  );
}

function Export({ run }: { run: string }) {
  const [format, setFormat] = useState('csv');
  const [status, setStatus] = useState<ExportStatus>();
  const [links, setLinks] = useState<{ name: string; url: string }[]>();
  const [error, setError] = useState<string>();
  const request = useCallback(async () => {
    setError(undefined); setLinks(undefined);
    try {
      let record = await call<ExportStatus>('exportApi', '/exports', 'this export', { method: 'POST', body: JSON.stringify({ request_id: `portal-${run}-${format}`, runs: [run], format }) });
      setStatus(record);
      for (let i = 0; i < 600 && record.state !== 'COMPLETED' && record.state !== 'FAILED'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        record = await call<ExportStatus>('exportApi', `/exports/${encodeURIComponent(record.export_id)}`, 'this export');
        setStatus(record);
      }
      if (record.state === 'FAILED') throw new ApiError(`the export failed: ${record.reason ?? 'no reason given'}`, 500);
      const download = await call<{ files: { name: string; url: string }[] }>('exportApi', `/exports/${encodeURIComponent(record.export_id)}/download`, 'this export');
      setLinks(download.files);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [run, format]);
  return (
    <section aria-label="export">
      <h2>Export</h2>
      <label>Format <select name="format" value={format} onChange={(e) => setFormat(e.target.value)}>
        <option value="csv">CSV</option><option value="nexus">NeXus</option><option value="nxstxm">NXstxm</option>
      </select></label>{' '}
      <button type="button" onClick={() => void request()}>Request export</button>
      {status && <p role="status">Export {status.export_id}: {status.state}{typeof status.progress === 'object' ? ` (${status.progress.done}/${status.progress.total})` : ''}</p>}
      {links && <ul>{links.map((f) => <li key={f.name}><a href={f.url} download={f.name}>Download {f.name}</a></li>)}</ul>}
      {error && <Failure message={error} />}
    </section>
  );
}

const humanBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);

function FileView({ id, run, path }: { id: string; run: string; path: string | null }) {
  const opened = useLoad(async () => {
    const links = await call<ScanFileLinks>('datasetApi', `/datasets/${idPath(id)}/scans/${encodeURIComponent(run)}/file`, `dataset ${id}`);
    if (!links.index_url) throw new ApiError('This file has no index: it cannot be shown by pieces.', 404);
    const response = await fetch(links.index_url);
    if (!response.ok) throw new ApiError(`This file has no index (HTTP ${response.status}): it cannot be shown by pieces.`, response.status);
    const file = new IndexedFile(parseFileIndex(await response.json()), httpRangeSource(links.url));
    return { provider: new IndexedProvider(links.file.key.split('/').pop() ?? links.file.key, file), file, links };
  }, [id, run]);
  return (
    <Layout crumbs={[[`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)], [id.split('/').slice(3).join('/'), link('dataset', id)], ['scan', link('scan', id, run)], ['file', link('file', id, run)]]}>
      {opened.error && <Failure message={opened.error} />}
      {opened.data && (
        <>
          <p className="file-facts">
            {opened.data.links.file.key} · {humanBytes(opened.data.file.index.file.bytes)} · read by range{' '}
            <a href={opened.data.links.url} download>download the whole file</a>
          </p>
          <div className="viewer" data-testid="h5web">
            <DataProvider api={opened.data.provider}>
              <H5Web {...(path ? { initialPath: path } : {})} />
            </DataProvider>
          </div>
        </>
      )}
    </Layout>
  );
}

function Portal() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(Boolean(session.token()));
  if (!signedIn) return <Layout crumbs={[]}><SignIn onDone={() => setSignedIn(true)} /></Layout>;
  const [a = '', b = ''] = route.parts;
  switch (route.view) {
    case 'proposal': return <Datasets key={a} proposal={a} query={route.query} />;
    case 'dataset': return <Dataset key={a} id={a} />;
    case 'scan': return <Scan key={`${a}/${b}`} id={a} run={b} />;
    case 'file': return <FileView key={`${a}/${b}`} id={a} run={b} path={route.query.get('path')} />;
    default: return <Proposals />;
  }
}

createRoot(document.getElementById('root')!).render(<StrictMode><Portal /></StrictMode>);
