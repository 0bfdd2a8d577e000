/**
 * The portal in a real browser: Debian's headless Chromium driven by playwright-core (no browser
 * download), against the local environment with scans published by blissdata into two proposals:
 * p1 (alice is a member; counters and an MCA spectrum) and p2 (bob's). alice signs in through the
 * local OIDC issuer's own page (authorization code + PKCE S256, oauth4webapi in the page), sees only
 * her proposal, walks proposal → dataset → scan → file in H5Web by keyboard, the default plot's
 * canvas is read back (not blank) with units on its axis, the path chosen in H5Web's tree is in the
 * URL and survives a reload, the MCA spectrum is sliced by keyboard and re-read by range, a CSV
 * export is downloaded. bob (not a member of p1) gets the API's "You have no access to proposal p1".
 * Screenshots of each view: test-output/portal/*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { startLocalPipeline, type LocalPipeline, type PublishedScan } from '../../local/pipeline.js';
import { startPortalServer, type PortalServer } from '../../local/portal-server.js';
import { projectRoot } from '../../local/services.js';
import { eventually } from '../support/sqs-helpers.js';
import { decodePng, distinctColours, inkPixels } from '../support/png-pixels.js';

const SHOTS = join(projectRoot, 'test-output', 'portal');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const POINTS = 40;

describe('the portal in headless Chromium', () => {
  let pipeline: LocalPipeline;
  let portal: PortalServer;
  let browser: Browser;
  let scan: PublishedScan;
  let datasetId: string;
  let fileBytes: number;

  /** The dataset API's id of an archived file's dataset: archive/<proposal>/<beamline>/<session>/<collection>/<collection>_<dataset>/…. */
  const datasetOf = (key: string) => {
    const [, proposal, beamline, session, collection, folder] = key.split('/') as string[];
    return [proposal, beamline, session, collection, folder!.slice(collection!.length + 1)].join('/');
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's package (or set CHROMIUM_PATH)`);
    mkdirSync(SHOTS, { recursive: true });
    pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
    // alice's proposal p1 (the scan she browses) and bob's p2 (which alice must not see).
    scan = await pipeline.publish({
      type: 'ascan',
      points: POINTS,
      counters: 2,
      spectrum: 64,
      number: 1,
      batch: 10,
      sleep: 0.001,
      proposal: 'p1',
      sampleName: 'gold foil',
    });
    const other = await pipeline.publish({
      type: 'loopscan',
      points: 5,
      counters: 1,
      number: 1,
      proposal: 'p2',
      collection: 'bobs_sample',
    });
    const record = await pipeline.waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED');
    assert.equal((await pipeline.waitForRun(other.run_uid)).state, 'ARCHIVED');
    fileBytes = record.file!.bytes;
    datasetId = datasetOf(record.file!.key);
    assert.equal(datasetId.split('/')[0], 'p1');
    const gateway = await pipeline.env.startHttpGateway();
    portal = await startPortalServer({
      datasetApi: gateway.urlOf('dataset-api'),
      exportApi: gateway.urlOf('export-api'),
      analysisApi: gateway.urlOf('analysis-api'),
      issuer: pipeline.env.oidc.issuer,
    });
    // WebGL (H5Web's plots) in software: SwiftShader, as on a machine without a GPU.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
    });
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
    await pipeline?.stop();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

  /** Signs in as the issuer's page offers it: the portal's button → the issuer's sign-in page (PKCE) → back with a token. */
  async function signedIn(user: string, view = ''): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[${user}'s page] ${String(e)}\n`));
    await page.goto(`${portal.url}${view}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${pipeline.env.oidc.issuer}/authorize?`));
    const authorize = new URL(page.url());
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorize.searchParams.get('response_type'), 'code');
    if (user === 'alice') await shot(page, '0-issuer-sign-in');
    await page.getByRole('button', { name: user, exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(portal.url) && !url.searchParams.has('code'));
    return page;
  }

  /** Presses Tab until `target` has the focus (at most 40 times): it is reachable by keyboard. */
  async function tabTo(page: Page, target: Locator, what: string) {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (await target.evaluate((el: { ownerDocument: { activeElement: unknown } }) => el === el.ownerDocument.activeElement)) return;
    }
    assert.fail(`${what} is not reachable with Tab`);
  }

  /** The largest canvas of the viewer: the plot (H5Web also draws small canvases, e.g. colour bars). */
  async function plotCanvas(page: Page) {
    const canvases = await page.locator('[data-testid="h5web"] canvas').all();
    const sized = await Promise.all(canvases.map(async (c) => ({ c, area: ((b) => (b ? b.width * b.height : 0))(await c.boundingBox()) })));
    return sized.sort((a, b) => b.area - a.area)[0]!.c;
  }

  it('signs alice (member of p1) in through the issuer: only her proposal, its scan in H5Web by keyboard, units, deep path, MCA slice, CSV export', async () => {
    const page = await signedIn('alice');
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));

    // Only her proposal: the API lists her p1 datasets and none of p2's.
    await page.getByRole('heading', { name: 'Your proposals' }).waitFor();
    const proposals = page.getByRole('list', { name: 'proposals' });
    await proposals.getByText(/1 dataset/).waitFor();
    assert.deepEqual(await proposals.getByRole('link').allInnerTexts(), ['p1']);
    await shot(page, '1-proposals-member');

    // Keyboard: Tab to the proposal, Enter; Tab to the dataset, Enter.
    await tabTo(page, proposals.getByRole('link', { name: 'p1' }), 'the proposal p1');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Datasets of proposal p1' }).waitFor();
    await page
      .getByRole('note')
      .getByText(/Your access: member \(alice is a member of proposal p1\)/)
      .waitFor();
    const datasetLink = page.getByRole('link', { name: datasetId.split('/').slice(3).join('/') });
    await datasetLink.waitFor();
    assert.equal(await page.getByRole('table', { name: 'datasets' }).locator('tbody tr').count(), 1, 'one dataset of p1');
    await shot(page, '2-datasets');
    await tabTo(page, datasetLink, 'the dataset link');
    await page.keyboard.press('Enter');

    // The dataset's scans: type, points, times, state and refused channels from the run record.
    await page.getByRole('heading', { name: `Dataset ${datasetId}` }).waitFor();
    const row = page.getByRole('table', { name: 'scans' }).locator('tbody tr').first();
    await row.getByRole('cell', { name: 'ARCHIVED' }).waitFor({ timeout: 30_000 });
    const cells = await row.getByRole('cell').allInnerTexts();
    assert.equal(cells[2], 'ascan', `type: ${cells.join(' | ')}`);
    assert.equal(cells[3], String(POINTS), 'points');
    assert.match(cells[5]!, /^\d{4}-\d\d-\d\dT/, 'end time');
    assert.equal(cells[7], 'none', 'refused channels');
    await shot(page, '3-dataset-scans');

    await tabTo(page, row.getByRole('link', { name: /^ascan/ }), 'the scan link');
    await page.keyboard.press('Enter');
    await page.getByText(scan.run_uid).waitFor();
    // Lineage: the archived scan file descends from the run; its PROV-JSON downloads.
    await page
      .getByRole('region', { name: 'lineage' })
      .getByText(/^file:s3:\/\/.*_0001\.h5$/)
      .waitFor({ timeout: 30_000 });
    const [prov] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PROV-JSON' }).click()]);
    const provJson = JSON.parse(readFileSync(await prov.path(), 'utf8')) as { entity?: Record<string, unknown> };
    assert.ok(Object.keys(provJson.entity ?? {}).length >= 2, `PROV-JSON entities: ${JSON.stringify(provJson).slice(0, 300)}`);
    await shot(page, '4-scan');

    // The file by keyboard; the default plot (NXdata plotselect) drawn from range reads.
    const ranges: number[] = [];
    page.on('response', (r) => {
      const range = r.headers()['content-range'];
      const span = range ? /bytes (\d+)-(\d+)/.exec(range) : null;
      if (span) ranges.push(Number(span[2]) - Number(span[1]) + 1);
    });
    await tabTo(page, page.getByRole('link', { name: 'Open the file in the viewer' }), 'the viewer link');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/file\//);
    const canvas = page.locator('[data-testid="h5web"] canvas').first();
    await canvas.waitFor({ timeout: 60_000 }).catch(async (error: unknown) => {
      await shot(page, '5-file-FAILED');
      throw new Error(
        `no plot canvas; page says: ${(await page.locator('body').innerText()).slice(0, 800)}; console: ${consoleErrors.join(' | ').slice(0, 1500)}`,
        { cause: error },
      );
    });
    await page.waitForTimeout(1500);
    const pixels = decodePng(await (await plotCanvas(page)).screenshot());
    // A blank canvas is one colour; the plotted line (40 points) inks a few thousand pixels.
    assert.ok(
      distinctColours(pixels) > 2 && inkPixels(pixels) > 500,
      `the default plot's canvas is blank: ${distinctColours(pixels)} colours, ${inkPixels(pixels)} inked pixels`,
    );
    // Units on the axes: the motor axis is in mm (BLISS's axis unit, written as the dataset's units).
    const viewer = page.getByTestId('h5web');
    await viewer
      .getByText(/\(mm\)/)
      .first()
      .waitFor({ timeout: 10_000 })
      .catch(async (error: unknown) => {
        await shot(page, '5-file-NO-UNITS');
        throw new Error(`no unit on the plot's axes; viewer text: ${(await viewer.innerText()).slice(0, 600)}`, { cause: error });
      });
    await shot(page, '5-file-default-plot');

    // The path chosen in H5Web's tree goes into the URL; a reload opens it again.
    // By keyboard: the entry's tree item, Enter (selects and expands it), then its measurement group.
    const entry = viewer.locator('[role="treeitem"][data-path="/1.1"]');
    await entry.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => decodeURIComponent(url.hash).endsWith('?path=/1.1'));
    const measurement = viewer.locator('[role="treeitem"][data-path="/1.1/measurement"]');
    await measurement.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => decodeURIComponent(url.hash).includes('?path=/1.1/measurement'));
    const deep = page.url();
    await page.reload();
    await viewer.locator('[role="treeitem"][aria-selected="true"][data-path="/1.1/measurement"]').waitFor({ timeout: 60_000 });
    assert.equal(page.url(), deep, 'the reload kept the deep link');
    await shot(page, '6-file-deep-path');

    // The MCA spectrum (2D: points × channels) as a line: one point's spectrum, then the next one.
    const mcaPath = '/1.1/instrument/spectrum_det0/data';
    await page.goto(
      `${portal.url}#/file/${encodeURIComponent(datasetId)}/${encodeURIComponent(scan.run_uid)}?path=${encodeURIComponent(mcaPath)}`,
    );
    await page.reload();
    await page.getByRole('tab', { name: 'Line' }).click({ timeout: 60_000 });
    // The dimension slider of D0 (the point), moved with the keyboard: H5Web asks the provider for the slice "1,:".
    const slider = page.getByRole('slider', { name: 'D0' });
    await slider.waitFor();
    await slider.focus();
    const before = await slider.getAttribute('aria-valuenow');
    const readsBefore = ranges.length;
    await page.keyboard.press('ArrowUp');
    await page.waitForTimeout(1500);
    assert.notEqual(await slider.getAttribute('aria-valuenow'), before, 'the slider moved to another point');
    assert.ok(ranges.length > readsBefore, 'the new slice was read by range');
    // The slice arrives by range and is drawn asynchronously: look again until it is (or 20 s have passed).
    let spectrum = decodePng(await plotCanvas(page).then((c) => c.screenshot()));
    for (const started = Date.now(); !(distinctColours(spectrum) > 2 && inkPixels(spectrum) > 500) && Date.now() - started < 20_000;) {
      await page.waitForTimeout(500);
      spectrum = decodePng(await plotCanvas(page).then((c) => c.screenshot()));
    }
    assert.ok(
      distinctColours(spectrum) > 2 && inkPixels(spectrum) > 500,
      `the sliced spectrum is drawn: ${inkPixels(spectrum)} inked pixels`,
    );
    await shot(page, '7-mca-spectrum-slice');
    const transferred = ranges.reduce((a, b) => a + b, 0);
    assert.ok(
      ranges.length > 0 && transferred < fileBytes,
      `read by range: ${transferred} of ${fileBytes} bytes in ${ranges.length} responses`,
    );

    // Export as CSV, wait for it, download it.
    await page.goto(`${portal.url}#/scan/${encodeURIComponent(datasetId)}/${encodeURIComponent(scan.run_uid)}`);
    await page.getByRole('button', { name: 'Request export' }).click();
    const download = page.getByRole('link', { name: /^Download .*\.csv$/ });
    await download.waitFor({ timeout: 120_000 });
    await shot(page, '8-export');
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    const csv = readFileSync(await file.path(), 'utf8')
      .trim()
      .split('\n');
    assert.match(csv[0]!, /^seq_num,/);
    assert.equal(csv.length, POINTS + 1, 'a header and one line per point');

    // Another proposal, asked for by name: the API's refusal is the message.
    await page.goto(`${portal.url}#/proposal/p2`);
    await page
      .getByRole('alert')
      .getByText(/^You have no access to proposal p2: alice is not a member of it/)
      .waitFor();
    await page.context().close();
  });

  it("tells bob (not a member of p1) that he has no access to it, in the API's words", async () => {
    const page = await signedIn('bob', '#/proposal/p1');
    // The view he asked for before signing in is where he comes back.
    await page.getByRole('heading', { name: 'Datasets of proposal p1' }).waitFor();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(
      await alert.innerText(),
      /^You have no access to proposal p1: bob is not a member of it, nor beamline staff, nor an administrator/,
    );
    await eventually(
      async () => (await page.getByRole('table', { name: 'datasets' }).locator('tbody tr').count()) === 0,
      5_000,
      'no dataset row',
    );
    await shot(page, '9-no-access');
    await page.goto(portal.url);
    const proposals = page.getByRole('list', { name: 'proposals' });
    await proposals.getByText(/1 dataset/).waitFor();
    assert.deepEqual(await proposals.getByRole('link').allInnerTexts(), ['p2'], 'bob sees his own proposal only');
    await page.context().close();
  });
});
