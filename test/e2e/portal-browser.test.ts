/**
 * The portal in a real browser: Debian's headless Chromium driven by playwright-core (no browser
 * download), against the local environment with a scan published by blissdata (counters and an
 * MCA spectrum). Signs in through the local OIDC issuer, walks proposal → dataset → scan → file in
 * H5Web (the default plot's canvas is read back and must not be blank; the MCA spectrum is sliced),
 * requests a CSV export and downloads it; a person of another proposal gets the access message.
 * Screenshots of each view: test-output/portal/*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
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

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's package (or set CHROMIUM_PATH)`);
    mkdirSync(SHOTS, { recursive: true });
    pipeline = await startLocalPipeline({ logLevel: 'ERROR' });
    scan = await pipeline.publish({ type: 'ascan', points: POINTS, counters: 2, spectrum: 64, number: 1, batch: 10, sleep: 0.001 });
    const record = await pipeline.waitForRun(scan.run_uid);
    assert.equal(record.state, 'ARCHIVED');
    fileBytes = record.file!.bytes;
    const [, proposal, beamline, session, collection, folder] = record.file!.key.split('/') as string[];
    datasetId = [proposal, beamline, session, collection, folder!.slice(collection!.length + 1)].join('/');
    const gateway = await pipeline.env.startHttpGateway();
    portal = await startPortalServer({ datasetApi: gateway.urlOf('dataset-api'), exportApi: gateway.urlOf('export-api'), analysisApi: gateway.urlOf('analysis-api'), tokenEndpoint: `${pipeline.env.oidc.issuer}/token` });
    // WebGL (H5Web's plots) in software: SwiftShader, as on a machine without a GPU.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'] });
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
    await pipeline?.stop();
  });

  async function signedIn(user: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(portal.url);
    await page.getByLabel('User name').fill(user);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Your proposals' }).waitFor();
    return page;
  }

  /** The largest canvas of the viewer: the plot (H5Web also draws small canvases, e.g. colour bars). */
  async function plotCanvas(page: Page) {
    const canvases = await page.locator('[data-testid="h5web"] canvas').all();
    const sized = await Promise.all(canvases.map(async (c) => ({ c, area: ((b) => (b ? b.width * b.height : 0))(await c.boundingBox()) })));
    return sized.sort((a, b) => b.area - a.area)[0]!.c;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

  it('takes an administrator from the proposal to the scan, its file in H5Web and a CSV export', async () => {
    const page = await signedIn('admin');
    const consoleErrors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    const proposal = datasetId.split('/')[0]!;
    await page.goto(`${portal.url}#/proposal/${proposal}`);
    const datasetLink = page.getByRole('link', { name: datasetId.split('/').slice(3).join('/') });
    await datasetLink.waitFor();
    await shot(page, '1-datasets');

    // Keyboard: focus the dataset link and follow it with Enter.
    await datasetLink.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Dataset ${datasetId}` }).waitFor();
    const scanLink = page.getByRole('link', { name: /^ascan/ });
    await scanLink.waitFor({ timeout: 30_000 });
    await shot(page, '2-dataset-scans');

    await scanLink.click();
    await page.getByText(scan.run_uid).waitFor();
    // Lineage: the archived scan file descends from the run; its PROV-JSON downloads.
    await page.getByRole('region', { name: 'lineage' }).getByText(/^file:s3:\/\/.*_0001\.h5$/).waitFor({ timeout: 30_000 });
    const [prov] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PROV-JSON' }).click()]);
    const provJson = JSON.parse(readFileSync(await prov.path(), 'utf8')) as { entity?: Record<string, unknown> };
    assert.ok(Object.keys(provJson.entity ?? {}).length >= 2, `PROV-JSON entities: ${JSON.stringify(provJson).slice(0, 300)}`);
    await shot(page, '3-scan');

    // Deep link to the file view; a reload keeps it.
    await page.getByRole('link', { name: 'Open the file in the viewer' }).click();
    await page.waitForURL(/#\/file\//);
    await page.reload();
    const ranges: number[] = [];
    page.on('response', (r) => {
      const range = r.headers()['content-range'];
      const span = range ? /bytes (\d+)-(\d+)/.exec(range) : null;
      if (span) ranges.push(Number(span[2]) - Number(span[1]) + 1);
    });
    const canvas = page.locator('[data-testid="h5web"] canvas').first();
    await canvas.waitFor({ timeout: 60_000 }).catch(async (error: unknown) => {
      await shot(page, '4-file-FAILED');
      throw new Error(`no plot canvas; page says: ${(await page.locator('body').innerText()).slice(0, 800)}; console: ${consoleErrors.join(' | ').slice(0, 1500)}`, { cause: error });
    });
    await page.waitForTimeout(1500);
    await shot(page, '4-file-default-plot');
    const pixels = decodePng(await (await plotCanvas(page)).screenshot());
    // A blank canvas is one colour; the plotted line (40 points) inks a few thousand pixels.
    assert.ok(distinctColours(pixels) > 2 && inkPixels(pixels) > 500, `the default plot's canvas is blank: ${distinctColours(pixels)} colours, ${inkPixels(pixels)} inked pixels`);

    // The MCA spectrum (2D: points × channels) as a line: one point's spectrum, then the next one.
    const mcaPath = '/1.1/instrument/spectrum_det0/data';
    await page.goto(`${portal.url}#/file/${encodeURIComponent(datasetId)}/${encodeURIComponent(scan.run_uid)}?path=${encodeURIComponent(mcaPath)}`);
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
    assert.ok(distinctColours(spectrum) > 2 && inkPixels(spectrum) > 500, `the sliced spectrum is drawn: ${inkPixels(spectrum)} inked pixels`);
    await shot(page, '5-mca-spectrum-slice');
    const transferred = ranges.reduce((a, b) => a + b, 0);
    assert.ok(ranges.length > 0 && transferred < fileBytes, `read by range: ${transferred} of ${fileBytes} bytes in ${ranges.length} responses`);

    // Export as CSV, wait for it, download it.
    await page.goto(`${portal.url}#/scan/${encodeURIComponent(datasetId)}/${encodeURIComponent(scan.run_uid)}`);
    await page.getByRole('button', { name: 'Request export' }).click();
    const download = page.getByRole('link', { name: /^Download .*\.csv$/ });
    await download.waitFor({ timeout: 120_000 });
    await shot(page, '6-export');
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    const csv = readFileSync(await file.path(), 'utf8').trim().split('\n');
    assert.match(csv[0]!, /^seq_num,/);
    assert.equal(csv.length, POINTS + 1, 'a header and one line per point');
    await page.context().close();
  });

  it('tells a person of another proposal that they have no access', async () => {
    const page = await signedIn('bob');
    await shot(page, '7-proposals-bob');
    const proposal = datasetId.split('/')[0]!;
    await page.goto(`${portal.url}#/proposal/${proposal}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), new RegExp(`You have no access to proposal ${proposal}`));
    await eventually(async () => (await page.getByRole('row').count()) === 1, 5_000, 'no dataset row, only the header');
    await shot(page, '8-no-access');
    await page.context().close();
  });
});
