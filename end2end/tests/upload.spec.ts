import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { test as plainTest } from '@playwright/test';
import type { Page, Request, Route } from '@playwright/test';
import { test, expect, signIn } from './fixtures';

const MIB = 1024 * 1024;

/** A file written for a test, with what the server must record for it. */
interface LocalFile {
  /** Where it is on disk. */
  file: string;
  size: number;
  sha256: string;
}

/**
 * Writes `size` bytes of deterministic pseudo-random content (xorshift32
 * from `seed`) and hashes them on the way, never holding the file whole.
 */
async function makeFile(file: string, size: number, seed: number): Promise<LocalFile> {
  await mkdir(dirname(file), { recursive: true });
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(MIB);
  const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
  let state = seed >>> 0 || 1;
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      const bytes = chunk.subarray(0, Math.min(chunk.length, size - written));
      hash.update(bytes);
      await handle.write(bytes);
      written += bytes.length;
    }
  } finally {
    await handle.close();
  }
  return { file, size, sha256: hash.digest('hex') };
}

/** A model name no other test (or earlier run) uses. */
function modelName(purpose: string): string {
  return `e2e-${purpose}-${randomBytes(4).toString('hex')}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a request goes to the storage endpoint rather than the portal. */
function isStoragePut(request: Request, portal: string): boolean {
  return request.method() === 'PUT' && new URL(request.url()).origin !== portal;
}

/** The part number a presigned UploadPart URL names. */
function partNumber(request: Request): number {
  return Number(new URL(request.url()).searchParams.get('partNumber'));
}

/**
 * Holds every part PUT to the storage for `delayMs` before letting it go,
 * so a test can act while parts are in flight. A PUT the page aborted
 * meanwhile cannot be continued, which is fine.
 */
async function throttleStorage(page: Page, portal: string, delayMs: number) {
  await page.route(
    (url) => url.origin !== portal,
    async (route: Route) => {
      if (route.request().method() === 'PUT') {
        await sleep(delayMs);
      }
      await route.continue().catch(() => {});
    },
  );
}

/** Counts the storage PUTs the page starts and those answered 200. */
function watchPuts(page: Page, portal: string) {
  const watch = { started: [] as number[], stored: [] as number[] };
  page.on('request', (request) => {
    if (isStoragePut(request, portal)) watch.started.push(partNumber(request));
  });
  page.on('requestfinished', async (request) => {
    if (!isStoragePut(request, portal)) return;
    const response = await request.response();
    if (response?.status() === 200) watch.stored.push(partNumber(request));
  });
  return watch;
}

/** Signs in and opens the upload page once the browser has taken it over. */
async function openUploadPage(page: Page, user = 'alice'): Promise<string> {
  await signIn(page, user, '/upload');
  await expect(page).toHaveURL(/\/upload$/);
  await waitUntilLive(page);
  return new URL(page.url()).origin;
}

async function waitUntilLive(page: Page) {
  await expect(page.getByTestId('upload-page')).toHaveAttribute('data-ready', 'true');
}

/** The published version, through the API with the page's session. */
async function fetchVersion(page: Page, model: string, version: number) {
  const response = await page.request.get(`/api/v1/models/${model}/versions/${version}`);
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

/** The signed-in user's open uploads. */
async function openUploads(page: Page): Promise<Array<{ model: string; upload_id: string }>> {
  const response = await page.request.get('/api/v1/uploads');
  expect(response.status()).toBe(200);
  return (await response.json()).uploads;
}

/** Checks that a version holds exactly these files, by path. */
function expectFiles(
  files: Array<{ path: string; size: number; sha256: string }>,
  expected: Record<string, LocalFile>,
) {
  const byPath = Object.fromEntries(files.map((file) => [file.path, file]));
  expect(Object.keys(byPath).sort()).toEqual(Object.keys(expected).sort());
  for (const [path, local] of Object.entries(expected)) {
    expect(byPath[path].size, path).toBe(local.size);
    expect(byPath[path].sha256, path).toBe(local.sha256);
  }
}

/**
 * Opens the upload page as `user`, slows every part PUT by `delayMs`, and
 * starts uploading one generated file; answers once a part has started.
 */
async function startSlowUpload(
  page: Page,
  options: { file: string; size: number; seed: number; model: string; delayMs: number; user?: string },
) {
  const data = await makeFile(join(workDir, options.file), options.size, options.seed);
  const model = modelName(options.model);
  const portal = await openUploadPage(page, options.user);
  await throttleStorage(page, portal, options.delayMs);
  const puts = watchPuts(page, portal);

  await page.getByTestId('model-name').fill(model);
  await page.getByTestId('file-input').setInputFiles(data.file);
  await page.getByTestId('start-upload').click();
  await expect.poll(() => puts.started.length, { timeout: 60_000 }).toBeGreaterThan(0);
  return { data, model, portal, puts };
}

let workDir: string;

test.beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'coffer-upload-'));
});

test.afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

test('alice uploads three files, one of 200 MiB, and gets version 1', async ({ page }) => {
  test.setTimeout(300_000);
  const weights = await makeFile(join(workDir, 'weights.bin'), 200 * MIB, 1);
  const tokenizer = await makeFile(join(workDir, 'tokenizer.bin'), 9 * MIB + 5, 2);
  const config = await makeFile(join(workDir, 'config.json'), 1234, 3);
  const model = modelName('three');
  await openUploadPage(page);

  // Describe the version and pick the files through the real input.
  await page.getByTestId('model-name').fill(model);
  await expect(page.getByTestId('model-hint')).toHaveText('A new model.');
  await page.getByTestId('description').fill('Three files, one of them large');
  await page.getByTestId('framework').fill('pytorch');
  await page.getByTestId('tags').fill('e2e, large, e2e');
  await page.getByTestId('metrics').fill('accuracy=0.93\nauc = 0.97');
  await page.getByTestId('file-input').setInputFiles([weights.file, tokenizer.file, config.file]);
  await expect(page.getByTestId('file-row')).toHaveCount(3);
  await expect(page.getByTestId('files-summary')).toContainText('3 file(s), 209.0 MiB');

  // The overall bar only ever moves forward, and ends at 100.
  await page.getByTestId('start-upload').click();
  const progress = page.getByTestId('upload-progress');
  await expect(progress).toHaveAttribute('role', 'progressbar');
  const seen: number[] = [];
  const done = page.getByTestId('upload-done');
  const failure = page.getByTestId('upload-error');
  while (!(await done.isVisible())) {
    if (await failure.isVisible()) throw new Error(`upload failed: ${await failure.textContent()}`);
    seen.push(Number(await progress.getAttribute('aria-valuenow')));
    await sleep(250);
  }
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  await expect(progress).toHaveAttribute('aria-valuenow', '100');
  await expect(done.getByRole('link')).toHaveAttribute('href', `/models/${model}/versions/1`);

  // Coffer recorded every file with the hash computed here.
  const version = await fetchVersion(page, model, 1);
  expect(version.state).toBe('available');
  expect(version.uploader).toBe('alice');
  expect(version.description).toBe('Three files, one of them large');
  expect(version.metadata).toEqual({
    framework: 'pytorch',
    tags: ['e2e', 'large'],
    metrics: { accuracy: 0.93, auc: 0.97 },
  });
  expectFiles(version.files, {
    'weights.bin': weights,
    'tokenizer.bin': tokenizer,
    'config.json': config,
  });
  expect(await openUploads(page)).toEqual([]);
});

test('a paused upload starts no part until resumed, then completes', async ({ page }) => {
  test.setTimeout(180_000);
  const { data, model, puts } = await startSlowUpload(page, {
    file: 'pausable.bin', size: 64 * MIB, seed: 11, model: 'pause', delayMs: 1_500,
  });
  await expect.poll(() => puts.stored.length, { timeout: 60_000 }).toBeGreaterThan(0);

  // Paused: in-flight parts are stopped and no new one starts.
  await page.getByTestId('pause-upload').click();
  await expect(page.getByTestId('resume-upload')).toBeVisible();
  await expect(page.getByTestId('upload-status')).toContainText('Paused');
  await expect(page.getByTestId('pause-upload')).toHaveCount(0);
  const startedWhilePaused = puts.started.length;
  await sleep(3_000);
  expect(puts.started.length).toBe(startedWhilePaused);
  await expect(page.getByTestId('upload-done')).toHaveCount(0);

  // Resumed: parts flow again and the version is published whole.
  await page.getByTestId('resume-upload').click();
  await expect.poll(() => puts.started.length).toBeGreaterThan(startedWhilePaused);
  await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 120_000 });
  const version = await fetchVersion(page, model, 1);
  expectFiles(version.files, { 'pausable.bin': data });
});

test('after a reload, selecting the same file resumes without resending stored parts', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const data = await makeFile(join(workDir, 'resumable.bin'), 96 * MIB, 21);
  const model = modelName('reload');
  const portal = await openUploadPage(page);
  await throttleStorage(page, portal, 1_200);
  const puts = watchPuts(page, portal);

  // Start, and reload once a few parts are stored.
  await page.getByTestId('model-name').fill(model);
  await page.getByTestId('file-input').setInputFiles(data.file);
  await page.getByTestId('start-upload').click();
  await expect.poll(() => puts.stored.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await page.reload();
  await waitUntilLive(page);
  const storedBefore = new Set(puts.stored);
  const startedBefore = puts.started.length;

  // The page offers the unfinished upload; the same file resumes it, and
  // the model's name comes back by itself.
  const offered = page.getByTestId('open-upload').filter({ hasText: model });
  await expect(offered).toBeVisible();
  await expect(page.getByTestId('model-name')).toHaveValue('');
  await page.getByTestId('file-input').setInputFiles(data.file);
  await page.getByTestId('start-upload').click();
  await expect(page.getByTestId('model-name')).toHaveValue(model);
  await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('upload-done').getByRole('link')).toHaveAttribute(
    'href',
    `/models/${model}/versions/1`,
  );

  // No part stored before the reload was sent again after it.
  const resent = puts.started.slice(startedBefore).filter((part) => storedBefore.has(part));
  expect(resent).toEqual([]);
  expect(puts.started.length).toBeGreaterThan(startedBefore);
  const version = await fetchVersion(page, model, 1);
  expectFiles(version.files, { 'resumable.bin': data });
  await expect(offered).toHaveCount(0);
});

test('cancel aborts the upload: nothing stays open and the version is failed', async ({
  page,
}) => {
  test.setTimeout(120_000);
  // Bob, so that no other test's upload can be open for this user.
  const { model, puts } = await startSlowUpload(page, {
    file: 'cancelled.bin', size: 64 * MIB, seed: 31, model: 'cancel', delayMs: 1_500, user: 'bob',
  });
  await expect.poll(async () => (await openUploads(page)).length).toBe(1);

  await page.getByTestId('cancel-upload').click();
  await expect(page.getByTestId('upload-status')).toContainText('Cancelled');
  const startedAtCancel = puts.started.length;

  // Through the API: no open upload is left, and the number is burnt.
  expect(await openUploads(page)).toEqual([]);
  const version = await fetchVersion(page, model, 1);
  expect(version.state).toBe('failed');
  await sleep(2_000);
  expect(puts.started.length).toBe(startedAtCancel);
});

test('a folder keeps its relative paths', async ({ page }) => {
  const folder = join(workDir, 'bundle');
  const weights = await makeFile(join(folder, 'model.bin'), 3 * MIB, 41);
  const config = await makeFile(join(folder, 'sub', 'config.json'), 100, 42);
  const model = modelName('folder');
  await openUploadPage(page);

  await page.getByTestId('model-name').fill(model);
  await page.getByTestId('folder-input').setInputFiles(folder);
  await expect(page.getByTestId('file-path')).toHaveText([
    'bundle/model.bin',
    'bundle/sub/config.json',
  ]);
  await page.getByTestId('start-upload').click();
  await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 60_000 });

  const version = await fetchVersion(page, model, 1);
  expectFiles(version.files, { 'bundle/model.bin': weights, 'bundle/sub/config.json': config });
});

test('dropped files are listed like picked ones', async ({ page }) => {
  await openUploadPage(page);

  // A drop carrying two files, as the browser would deliver it.
  const transfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['weights'], 'dropped.bin'));
    transfer.items.add(new File(['{}'], 'dropped.json'));
    return transfer;
  });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: transfer });

  await expect(page.getByTestId('file-path')).toHaveText(['dropped.bin', 'dropped.json']);
});

test('bad names and metrics are explained before anything is sent', async ({ page }) => {
  const small = await makeFile(join(workDir, 'small.bin'), 10, 51);
  await openUploadPage(page);
  await page.getByTestId('file-input').setInputFiles(small.file);

  await page.getByTestId('model-name').fill('Bad Name');
  await expect(page.getByTestId('model-name-error')).toContainText('lowercase letters');
  await expect(page.getByTestId('start-upload')).toBeDisabled();

  await page.getByTestId('model-name').fill('good-name');
  await page.getByTestId('metrics').fill('accuracy=high');
  await expect(page.getByTestId('metrics-error')).toContainText("'high' is not a number");
  await expect(page.getByTestId('start-upload')).toBeDisabled();

  await page.getByTestId('metrics').fill('accuracy=0.5');
  await expect(page.getByTestId('start-upload')).toBeEnabled();
});

// A request cut by the lost network, or refused on purpose, makes the
// browser itself log "Failed to load resource"; the shared fixture would
// count that against the test. These tests use plain pages and check for
// every other error themselves.

/** Script errors and console errors, but for failed resource loads. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  return errors;
}

plainTest(
  'a lost network pauses the upload, which goes on by itself when it is back',
  async ({ page, context }) => {
    plainTest.setTimeout(120_000);
    const errors = watchErrors(page);
    const { data, model, puts } = await startSlowUpload(page, {
      file: 'offline.bin', size: 48 * MIB, seed: 61, model: 'offline', delayMs: 1_000,
    });

    await context.setOffline(true);
    await expect(page.getByTestId('upload-status')).toContainText('network is gone');
    await expect(page.getByTestId('resume-upload')).toBeVisible();
    await sleep(1_000);

    await context.setOffline(false);
    await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 90_000 });
    const version = await fetchVersion(page, model, 1);
    expectFiles(version.files, { 'offline.bin': data });
    expect(errors).toEqual([]);
  },
);

test('an unfinished upload can be discarded from the list after a reload', async ({ page }) => {
  test.setTimeout(120_000);
  // Dave, so that no other test's upload can be open for this user.
  const { data, model, puts } = await startSlowUpload(page, {
    file: 'discarded.bin', size: 40 * MIB, seed: 71, model: 'discard', delayMs: 1_500, user: 'dave',
  });
  await page.reload();
  await waitUntilLive(page);

  const offered = page.getByTestId('open-upload').filter({ hasText: model });
  await offered.getByTestId('discard-upload').click();
  await expect(page.getByTestId('open-uploads')).toHaveCount(0);
  expect(await openUploads(page)).toEqual([]);
  expect((await fetchVersion(page, model, 1)).state).toBe('failed');
});

plainTest(
  'a refused part URL is signed again, and a failing storage is retried',
  async ({ page }) => {
    plainTest.setTimeout(120_000);
    const errors = watchErrors(page);
    const data = await makeFile(join(workDir, 'refused.bin'), 24 * MIB, 81);
    const model = modelName('retry');
    const portal = await openUploadPage(page);

    // The first PUT of part 1 is refused as expired; the first of part 2
    // meets a storage outage.
    const answered = new Set<number>();
    await page.route(
      (url) => url.origin !== portal,
      async (route: Route) => {
        const part = partNumber(route.request());
        if (route.request().method() === 'PUT' && [1, 2].includes(part) && !answered.has(part)) {
          answered.add(part);
          const status = part === 1 ? 403 : 503;
          return route.fulfill({ status, headers: { 'access-control-allow-origin': portal } });
        }
        await route.continue();
      },
    );
    const signed: number[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/parts')) {
        signed.push(...request.postDataJSON().parts.map((part: { number: number }) => part.number));
      }
    });

    await page.getByTestId('model-name').fill(model);
    await page.getByTestId('file-input').setInputFiles(data.file);
    await page.getByTestId('start-upload').click();
    await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 90_000 });

    expect(answered).toEqual(new Set([1, 2]));
    expect(signed.filter((part) => part === 1)).toHaveLength(2);
    expect(signed.filter((part) => part === 2)).toHaveLength(1);
    const version = await fetchVersion(page, model, 1);
    expectFiles(version.files, { 'refused.bin': data });
    expect(errors).toEqual([]);
  },
);

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the page says it needs JavaScript', async ({ page }) => {
    await signIn(page, 'alice', '/upload');
    await expect(page.getByTestId('needs-javascript')).toBeVisible();
    await expect(page.getByTestId('start-upload')).toBeDisabled();
  });
});
