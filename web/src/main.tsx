/**
 * The portal: sign in, proposals → datasets → scans → a scan file in H5Web (read by range through
 * its index, docs/adr/0009) → exports. Routes live in the URL hash (`#/dataset/<id>`, `#/file/<id>/<run>?path=…`),
 * so every view is a link that survives a reload.
 */
import '@h5web/app/styles.css';
import './portal.css';
import { App as H5Web, DataProvider } from '@h5web/app';
import { StrictMode, useCallback, useEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import { createRoot } from 'react-dom/client';
import { httpRangeSource, IndexedFile, parseFileIndex } from '../../src/client/indexed-file-reader.js';
import {
  ApiError,
  call,
  finishSignIn,
  idPath,
  session,
  signIn,
  type DatasetRecord,
  type DatasetScan,
  type ExportStatus,
  type ScanFileLinks,
} from './api.js';
import { IndexedProvider } from './indexed-provider.js';

interface Route {
  view: string;
  parts: string[];
  query: URLSearchParams;
}

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
    const run = () =>
      load().then(
        (data) => live && setState({ data }),
        (e: unknown) => live && setState({ error: (e as Error).message }),
      );
    void run();
    const timer = pollMs ? setInterval(run, pollMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, deps);
  return state;
}

function Failure({ message }: { message: string }) {
  return (
    <p role="alert" className="error">
      {message}
    </p>
  );
}

function Layout({ children, crumbs }: { children: ReactNode; crumbs: [string, string][] }) {
  const claims = session.claims();
  return (
    <div className="portal">
      <header>
        <nav aria-label="breadcrumb">
          <a href="#/">Proposals</a>
          {crumbs.map(([label, href]) => (
            <span key={href}>
              {' '}
              › <a href={href}>{label}</a>
            </span>
          ))}
        </nav>
        {claims && (
          <span className="who">
            {claims.preferred_username}{' '}
            <button
              type="button"
              onClick={() => {
                session.clear();
                window.location.hash = '#/';
                window.location.reload();
              }}
            >
              Sign out
            </button>
          </span>
        )}
      </header>
      <main>{children}</main>
    </div>
  );
}

/** Sign-in with the facility's OIDC issuer: the issuer's own page (authorization code + PKCE), then back here. */
function SignIn({ error }: { error?: string | undefined }) {
  const [failure, setFailure] = useState(error);
  return (
    <section className="sign-in" aria-label="sign in">
      <h1>Sign in</h1>
      <p>You sign in with your facility account; you come back to this page afterwards.</p>
      <button
        type="button"
        autoFocus
        onClick={() => {
          signIn().catch((err: unknown) => setFailure((err as Error).message));
        }}
      >
        Sign in
      </button>
      {failure && <Failure message={failure} />}
    </section>
  );
}

/** One of the person's proposals, with the number of its datasets the archive lists to them. */
function ProposalItem({ proposal }: { proposal: string }) {
  const listed = useLoad(
    () => call<{ datasets: DatasetRecord[] }>('datasetApi', `/datasets?proposal=${encodeURIComponent(proposal)}`, `proposal ${proposal}`),
    [proposal],
  );
  const n = listed.data?.datasets.length;
  return (
    <li>
      <a href={link('proposal', proposal)}>{proposal}</a>{' '}
      <span className="muted">{listed.error ?? (n === undefined ? '…' : `${n} dataset${n === 1 ? '' : 's'}`)}</span>
    </li>
  );
}

/** The proposals the person's identity names (the OIDC `proposals` claim), each counted by the API. */
function Proposals() {
  const claims = session.claims() ?? {};
  const [typed, setTyped] = useState('');
  const proposals = [...new Set((claims.proposals ?? []).map((p) => p.toLowerCase()))].sort();
  return (
    <Layout crumbs={[]}>
      <h1>Your proposals</h1>
      <ul className="list" aria-label="proposals">
        {proposals.map((p) => (
          <ProposalItem key={p} proposal={p} />
        ))}
      </ul>
      {proposals.length === 0 && (
        <p>
          Your identity lists no proposal
          {(claims.roles ?? []).includes('archive-admin') || (claims.beamlines ?? []).length
            ? ' (staff and administrators open a proposal by name)'
            : ''}
          .
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = link('proposal', typed.trim());
        }}
      >
        <label>
          Open a proposal <input name="proposal" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <button type="submit">Open</button>
      </form>
    </Layout>
  );
}

interface ProposalAccess {
  proposal: string;
  access: string;
  reason: string;
}

function Datasets({ proposal, query }: { proposal: string; query: URLSearchParams }) {
  const [filters, setFilters] = useState({
    sample: query.get('sample') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
    technique: query.get('technique') ?? '',
    title: query.get('title') ?? '',
  });
  const params = new URLSearchParams({ proposal });
  if (filters.sample) params.set('sample', filters.sample);
  if (filters.from) params.set('from', filters.from);
  if (filters.to) params.set('to', filters.to);
  // The API says whether (and how) the person may read the proposal: its refusal is the message shown.
  const access = useLoad(
    () => call<ProposalAccess>('datasetApi', `/proposals/${encodeURIComponent(proposal)}`, `proposal ${proposal}`),
    [proposal],
  );
  const { data, error } = useLoad(
    () => call<{ datasets: DatasetRecord[] }>('datasetApi', `/datasets?${params}`, `proposal ${proposal}`),
    [proposal, filters.sample, filters.from, filters.to],
    5000,
  );
  const shown = (data?.datasets ?? []).filter(
    (d) =>
      (!filters.technique || d.techniques.some((t) => t.toLowerCase().includes(filters.technique.toLowerCase()))) &&
      (!filters.title ||
        `${d.collection} ${d.dataset} ${Object.values(d.metadata).join(' ')}`.toLowerCase().includes(filters.title.toLowerCase())),
  );
  const field = (name: keyof typeof filters, label: string, type = 'text') => (
    <label>
      {label} <input name={name} type={type} value={filters[name]} onChange={(e) => setFilters({ ...filters, [name]: e.target.value })} />
    </label>
  );
  return (
    <Layout crumbs={[[`Proposal ${proposal}`, link('proposal', proposal)]]}>
      <h1>Datasets of proposal {proposal}</h1>
      <form className="search" role="search" onSubmit={(e) => e.preventDefault()}>
        {field('sample', 'Sample')}
        {field('title', 'Title')}
        {field('technique', 'Technique')}
        {field('from', 'From', 'date')}
        {field('to', 'To', 'date')}
      </form>
      {access.error && <Failure message={access.error} />}
      {access.data && (
        <p className="muted" role="note">
          Your access: {access.data.access} ({access.data.reason}).
        </p>
      )}
      {error && <Failure message={error} />}
      {access.error && data && data.datasets.length > 0 && <p>Only its public datasets (embargo ended) are listed.</p>}
      <table aria-label="datasets">
        <thead>
          <tr>
            <th>Dataset</th>
            <th>Sample</th>
            <th>Techniques</th>
            <th>State</th>
            <th>Started</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <tr key={d.id}>
              <td>
                <a href={link('dataset', d.id)}>
                  {d.collection}/{d.dataset}
                </a>
              </td>
              <td>{d.metadata.Sample_name ?? ''}</td>
              <td>{d.techniques.join(', ')}</td>
              <td>{d.state}</td>
              <td>{d.start_date}</td>
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
    <Layout
      crumbs={[
        [`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)],
        [id.split('/').slice(3).join('/'), link('dataset', id)],
      ]}
    >
      <h1>Dataset {id}</h1>
      {record.error && <Failure message={record.error} />}
      {d && (
        <dl className="facts">
          <dt>State</dt>
          <dd>{d.state}</dd>
          <dt>Techniques</dt>
          <dd>{d.techniques.join(', ') || 'none'}</dd>
          <dt>Missing fields</dt>
          <dd>{missing}</dd>
          <dt>Master file</dt>
          <dd>{d.master_file ? (typeof d.master_file === 'string' ? d.master_file : d.master_file.key) : 'not written (dataset open)'}</dd>
          {Object.entries(d.metadata).map(([k, v]) => (
            <FragmentRow key={k} name={k} value={v} />
          ))}
        </dl>
      )}
      <h2>Scans</h2>
      {scans.error && <Failure message={scans.error} />}
      <table aria-label="scans">
        <thead>
          <tr>
            <th>#</th>
            <th>Title</th>
            <th>Type</th>
            <th>Points</th>
            <th>Started</th>
            <th>Ended</th>
            <th>State</th>
            <th>Refused channels</th>
            <th>File</th>
          </tr>
        </thead>
        <tbody>
          {(scans.data?.scans ?? []).map((s) => (
            <tr key={s.runUid}>
              <td>{s.scanNumber}</td>
              <td>
                <a href={link('scan', id, s.runUid)}>{s.title ?? s.runUid}</a>
              </td>
              <td>{s.type ?? ''}</td>
              <td>{s.points ?? ''}</td>
              <td>{s.startTime ?? ''}</td>
              <td>{s.endTime ?? ''}</td>
              <td>{stateOf(s)}</td>
              <td>{refused(s)}</td>
              <td>{s.fileKey ? <a href={link('file', id, s.runUid)}>open in viewer</a> : '…'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

/** The run record's state; without one (an older API) what the dataset knows: a file, or not yet. */
const stateOf = (s: DatasetScan) => s.state ?? (s.fileKey ? 'ARCHIVED' : 'RECORDING');
const refused = (s: DatasetScan) =>
  s.refusedChannels?.length ? s.refusedChannels.map((c) => `${c.channel} (${c.reason})`).join('; ') : 'none';

function FragmentRow({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}

function Scan({ id, run }: { id: string; run: string }) {
  const scans = useLoad(() => call<{ scans: DatasetScan[] }>('datasetApi', `/datasets/${idPath(id)}/scans`, `dataset ${id}`), [id], 3000);
  const scan = scans.data?.scans.find((s) => s.runUid === run);
  return (
    <Layout
      crumbs={[
        [`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)],
        [id.split('/').slice(3).join('/'), link('dataset', id)],
        [`scan ${scan?.scanNumber ?? run}`, link('scan', id, run)],
      ]}
    >
      <h1>
        Scan {scan?.scanNumber} {scan?.title}
      </h1>
      {scans.error && <Failure message={scans.error} />}
      {scan && (
        <dl className="facts">
          <dt>Run</dt>
          <dd>{scan.runUid}</dd>
          <dt>Type</dt>
          <dd>{scan.type ?? 'not recorded'}</dd>
          <dt>Points</dt>
          <dd>{scan.points ?? 'not recorded'}</dd>
          <dt>Started</dt>
          <dd>{scan.startTime}</dd>
          <dt>Ended</dt>
          <dd>{scan.endTime ? `${scan.endTime}${scan.endReason ? ` (${scan.endReason})` : ''}` : 'not yet'}</dd>
          <dt>State</dt>
          <dd>{stateOf(scan)}</dd>
          <dt>Refused channels</dt>
          <dd>{refused(scan)}</dd>
          <dt>File</dt>
          <dd>{scan.fileKey ?? 'not yet'}</dd>
          <dt>sha256</dt>
          <dd>{scan.fileSha256 ?? ''}</dd>
        </dl>
      )}
      {scan?.fileKey && (
        <p>
          <a href={link('file', id, run)}>Open the file in the viewer</a>
        </p>
      )}
      {scan?.fileKey && <Lineage run={run} />}
      {scan?.fileKey && <Export run={run} />}
    </Layout>
  );
}

interface LineageAnswer {
  entity: string;
  direction: string;
  nodes?: { entity: string; depth?: number }[];
  entities?: unknown[];
}

/** Ancestors and descendants of the run (analysis-api lineage) and its PROV-JSON. */
function Lineage({ run }: { run: string }) {
  const entity = `run:${run}`;
  const load = (direction: string) =>
    call<LineageAnswer>('analysisApi', `/lineage?entity=${encodeURIComponent(entity)}&direction=${direction}`, `the lineage of run ${run}`);
  const ancestors = useLoad(() => load('ancestors'), [run]);
  const descendants = useLoad(() => load('descendants'), [run]);
  const [error, setError] = useState<string>();
  const names = (a?: LineageAnswer) =>
    JSON.stringify(a ?? {})
      .match(/"(run:|dataset:|export:|file:s3:\/\/)[^"]+"/g)
      ?.map((x) => x.slice(1, -1))
      .filter((x, i, all) => x !== entity && all.indexOf(x) === i) ?? [];
  const download = async () => {
    try {
      const prov = await call<unknown>(
        'analysisApi',
        `/prov?entity=${encodeURIComponent(entity)}&direction=both`,
        `the provenance of run ${run}`,
      );
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
        <dt>Ancestors</dt>
        <dd>{ancestors.data ? names(ancestors.data).join(', ') || 'none' : '…'}</dd>
        <dt>Descendants</dt>
        <dd>
          <ul className="lineage">
            {names(descendants.data).map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </dd>
      </dl>
      <button type="button" onClick={() => void download()}>
        Download PROV-JSON
      </button>
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
    setError(undefined);
    setLinks(undefined);
    try {
      let record = await call<ExportStatus>('exportApi', '/exports', 'this export', {
        method: 'POST',
        body: JSON.stringify({ request_id: `portal-${run}-${format}`, runs: [run], format }),
      });
      setStatus(record);
      for (let i = 0; i < 600 && record.state !== 'COMPLETED' && record.state !== 'FAILED'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        record = await call<ExportStatus>('exportApi', `/exports/${encodeURIComponent(record.export_id)}`, 'this export');
        setStatus(record);
      }
      if (record.state === 'FAILED') throw new ApiError(`the export failed: ${record.reason ?? 'no reason given'}`, 500);
      const download = await call<{ files: { name: string; url: string }[] }>(
        'exportApi',
        `/exports/${encodeURIComponent(record.export_id)}/download`,
        'this export',
      );
      setLinks(download.files);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [run, format]);
  return (
    <section aria-label="export">
      <h2>Export</h2>
      <label>
        Format{' '}
        <select name="format" value={format} onChange={(e) => setFormat(e.target.value)}>
          <option value="csv">CSV</option>
          <option value="nexus">NeXus</option>
          <option value="nxstxm">NXstxm</option>
        </select>
      </label>{' '}
      <button type="button" onClick={() => void request()}>
        Request export
      </button>
      {status && (
        <p role="status">
          Export {status.export_id}: {status.state}
          {typeof status.progress === 'object' ? ` (${status.progress.done}/${status.progress.total})` : ''}
        </p>
      )}
      {links && (
        <ul>
          {links.map((f) => (
            <li key={f.name}>
              <a href={f.url} download={f.name}>
                Download {f.name}
              </a>
            </li>
          ))}
        </ul>
      )}
      {error && <Failure message={error} />}
    </section>
  );
}

const humanBytes = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;

/**
 * Keeps the URL's `?path=` on the entity selected in H5Web, so a reload (or a shared link) opens the
 * same path. H5Web 17 reports no selection; its tree marks the selected item (`aria-selected`, `data-path`).
 */
function usePathInUrl(viewer: RefObject<HTMLDivElement | null>, active: boolean) {
  useEffect(() => {
    const root = viewer.current;
    if (!active || !root) return undefined;
    const follow = () => {
      const selected = root.querySelector<HTMLElement>('[role="treeitem"][aria-selected="true"][data-path]')?.dataset.path;
      if (!selected) return;
      const [route = '', query = ''] = window.location.hash.split('?');
      const params = new URLSearchParams(query);
      if (params.get('path') === selected || (selected === '/' && !params.has('path'))) return;
      params.set('path', selected);
      window.history.replaceState(null, '', `${route}?${params}`);
    };
    const observer = new MutationObserver(follow);
    observer.observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-selected'] });
    return () => observer.disconnect();
  }, [viewer, active]);
}

function FileView({ id, run, path }: { id: string; run: string; path: string | null }) {
  const opened = useLoad(async () => {
    const links = await call<ScanFileLinks>('datasetApi', `/datasets/${idPath(id)}/scans/${encodeURIComponent(run)}/file`, `dataset ${id}`);
    if (!links.index_url) throw new ApiError('This file has no index: it cannot be shown by pieces.', 404);
    const response = await fetch(links.index_url);
    if (!response.ok)
      throw new ApiError(`This file has no index (HTTP ${response.status}): it cannot be shown by pieces.`, response.status);
    const file = new IndexedFile(parseFileIndex(await response.json()), httpRangeSource(links.url));
    return { provider: new IndexedProvider(links.file.key.split('/').pop() ?? links.file.key, file), file, links };
  }, [id, run]);
  const viewer = useRef<HTMLDivElement>(null);
  usePathInUrl(viewer, Boolean(opened.data));
  return (
    <Layout
      crumbs={[
        [`Proposal ${id.split('/')[0]}`, link('proposal', id.split('/')[0]!)],
        [id.split('/').slice(3).join('/'), link('dataset', id)],
        ['scan', link('scan', id, run)],
        ['file', link('file', id, run)],
      ]}
    >
      {opened.error && <Failure message={opened.error} />}
      {opened.data && (
        <>
          <p className="file-facts">
            {opened.data.links.file.key} · {humanBytes(opened.data.file.index.file.bytes)} · read by range{' '}
            <a href={opened.data.links.url} download>
              download the whole file
            </a>
          </p>
          <div className="viewer" data-testid="h5web" ref={viewer}>
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
  const [returning, setReturning] = useState<{ pending: boolean; error?: string }>(() => {
    const params = new URL(window.location.href).searchParams;
    return { pending: params.has('code') || params.has('error') };
  });
  useEffect(() => {
    // Back from the issuer: exchange the code, then show the view the person left.
    if (!returning.pending) return;
    finishSignIn().then(
      (done) => {
        setSignedIn(done || Boolean(session.token()));
        setReturning({ pending: false });
        // The view the person left before signing in is back in the URL (history.replaceState tells no one).
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      },
      (error: unknown) => setReturning({ pending: false, error: (error as Error).message }),
    );
  }, []);
  if (returning.pending)
    return (
      <Layout crumbs={[]}>
        <p role="status">Signing in…</p>
      </Layout>
    );
  if (!signedIn)
    return (
      <Layout crumbs={[]}>
        <SignIn error={returning.error} />
      </Layout>
    );
  const [a = '', b = ''] = route.parts;
  switch (route.view) {
    case 'proposal':
      return <Datasets key={a} proposal={a} query={route.query} />;
    case 'dataset':
      return <Dataset key={a} id={a} />;
    case 'scan':
      return <Scan key={`${a}/${b}`} id={a} run={b} />;
    case 'file':
      return <FileView key={`${a}/${b}`} id={a} run={b} path={route.query.get('path')} />;
    default:
      return <Proposals />;
  }
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Portal />
  </StrictMode>,
);
