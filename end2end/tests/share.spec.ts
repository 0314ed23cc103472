import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import type { Browser, Page } from '@playwright/test';
import { test, expect, signIn } from './fixtures';

/** A file of a version to publish. */
interface VersionFile {
  path: string;
  data: Buffer;
}

/** What a version says about itself besides its files. */
interface Described {
  description?: string;
  metadata?: { framework?: string; tags?: string[]; metrics?: Record<string, number> };
}

const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sha256B64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

/** A model name no other test (or earlier run) uses. */
function modelName(purpose: string): string {
  return `e2e-${purpose}-${randomBytes(4).toString('hex')}`;
}

/**
 * Publishes a version of small files through the API with the page's
 * session, as a pipeline would: start, one signed part per file sent
 * straight to the storage, complete. Answers the version's number.
 */
async function publish(page: Page, model: string, files: VersionFile[], described: Described = {}) {
  const me = await page.request.get('/api/v1/me');
  expect(me.status()).toBe(200);
  const csrf = { 'X-CSRF-Token': (await me.json()).csrf_token };

  // Start: the server plans one part per small file.
  const started = await page.request.post(`/api/v1/models/${model}/uploads`, {
    headers: csrf,
    data: {
      description: described.description ?? '',
      metadata: described.metadata ?? {},
      files: files.map((file) => ({ path: file.path, size: file.data.length })),
    },
  });
  expect(started.status(), await started.text()).toBe(201);
  const upload = await started.json();
  const base = `/api/v1/models/${model}/uploads/${upload.upload_id}`;

  // Each file's single part goes to its presigned URL, checksum signed.
  for (const [index, file] of files.entries()) {
    const signed = await page.request.post(`${base}/parts`, {
      headers: csrf,
      data: { file: index, parts: [{ number: 1, sha256: sha256B64(file.data) }] },
    });
    expect(signed.status(), await signed.text()).toBe(200);
    const [part] = (await signed.json()).parts;
    const put = await page.request.put(part.url, { headers: part.headers, data: file.data });
    expect(put.status(), await put.text()).toBe(200);
  }

  // Completion publishes the version with each file's SHA-256.
  const completed = await page.request.post(`${base}/complete`, {
    headers: csrf,
    data: { files: files.map((file, index) => ({ index, sha256: sha256Hex(file.data) })) },
  });
  expect(completed.status(), await completed.text()).toBe(200);
  return (await completed.json()).version as number;
}

/** Opens a version's page and waits until the browser has taken it over. */
async function openVersion(page: Page, model: string, version: number) {
  await page.goto(`/models/${model}/versions/${version}`);
  await expect(page.getByTestId('version-page')).toHaveAttribute('data-ready', 'true');
}

/** Script and console errors of a page that is not the fixture's. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && message.location().url !== page.url()) {
      errors.push(message.text());
    }
  });
  return errors;
}

/** A browser with no Coffer session, as a link's recipient has. */
async function recipientPage(browser: Browser, baseURL: string | undefined) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page) };
}

// The README tries to run a script twice over (a script element and an
// event handler); the card must keep neither.
const README = Buffer.from(
  [
    '# Fraud model card',
    '',
    'Gradient boosting on card transactions.',
    '',
    '<script>window.__cardRan = true;</script>',
    '',
    '<img src="x" onerror="window.__cardRan = true">',
    '',
  ].join('\n'),
);

test('alice shares one file, a stranger downloads it, and after revocation the link says so', async ({
  page,
  context,
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const model = modelName('share');
  const weights = randomBytes(4096);
  await signIn(page, 'alice');
  await publish(page, model, [
    { path: 'README.md', data: README },
    { path: 'weights.pkl', data: weights },
  ], { metadata: { framework: 'sklearn', tags: ['e2e'], metrics: { accuracy: 0.9 } } });

  // The version page: a card without scripts, the pickle warning, no diff.
  await openVersion(page, model, 1);
  await expect(page.getByTestId('version-title')).toHaveText(`${model} · version 1`);
  const card = page.getByTestId('model-card');
  await expect(card.getByRole('heading', { name: 'Fraud model card' })).toBeVisible();
  await expect(card.locator('script')).toHaveCount(0);
  await expect(card.locator('[onerror]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as { __cardRan?: boolean }).__cardRan)).toBeUndefined();
  const warning = page.getByTestId('pickle-warning');
  await expect(warning).toContainText('run code when loaded');
  await expect(warning).toContainText('weights.pkl');
  await expect(warning).not.toContainText('README.md');
  await expect(page.getByTestId('version-diff')).toContainText('first version');

  // Each file has its download route and a digest that copies.
  const row = page.getByTestId('version-file').filter({ hasText: 'weights.pkl' });
  await expect(row.getByTestId('download-file')).toHaveAttribute(
    'href',
    `/api/v1/models/${model}/versions/1/files/weights.pkl`,
  );
  await expect(row.getByTestId('file-sha256')).toHaveText(sha256Hex(weights));
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await row.getByTestId('copy-sha256').click();
  await expect(row.getByTestId('copy-sha256')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(sha256Hex(weights));

  // Alice shares the pickle alone, for two hours and three downloads.
  await page.getByTestId('share-open').click();
  await page.getByTestId('share-file').selectOption('weights.pkl');
  await page.getByTestId('share-expiry').fill('2');
  await page.getByTestId('share-limit').fill('3');
  await page.getByTestId('share-note').fill('For the model risk review');
  await page.getByTestId('share-create').click();
  await expect(page.getByTestId('share-error')).toBeHidden();
  const shareUrl = await page.getByTestId('share-url').inputValue();
  expect(new URL(shareUrl).pathname).toMatch(/^\/s\/[A-Za-z0-9_-]{22,}$/);

  // A stranger sees that file, the note and the expiry, and nothing of Coffer.
  const stranger = await recipientPage(browser, baseURL);
  await stranger.page.goto(shareUrl);
  await expect(stranger.page.getByTestId('shared-title')).toHaveText(`${model} · version 1`);
  await expect(stranger.page.getByTestId('shared-file')).toHaveCount(1);
  await expect(stranger.page.getByTestId('shared-file')).toContainText('weights.pkl');
  await expect(stranger.page.getByTestId('shared-file')).toContainText(sha256Hex(weights));
  await expect(stranger.page.getByTestId('shared-expires')).toContainText('Available until');
  await expect(stranger.page.getByTestId('shared-expires')).toContainText('3 downloads left');
  await expect(stranger.page.getByText('For the model risk review')).toBeVisible();
  await expect(stranger.page.getByText('README.md')).toHaveCount(0);
  await expect(stranger.page.getByTestId('nav-home')).toHaveCount(0);
  await expect(stranger.page.getByTestId('sign-in')).toHaveCount(0);
  await expect(stranger.page.getByTestId('dev-idp-banner')).toHaveCount(0);
  await expect(stranger.page).toHaveTitle('Shared files');

  // The download is the very bytes alice published.
  const [download] = await Promise.all([
    stranger.page.waitForEvent('download'),
    stranger.page.getByTestId('shared-download').click(),
  ]);
  expect(download.suggestedFilename()).toBe('weights.pkl');
  const received = await readFile(await download.path());
  expect(sha256Hex(received)).toBe(sha256Hex(weights));

  // Alice sees the use on /shares and revokes the link in place.
  await page.goto('/shares');
  await expect(page.getByTestId('shares-page')).toHaveAttribute('data-ready', 'true');
  const link = page.getByTestId('share-row').filter({ hasText: model });
  await expect(link).toHaveCount(1);
  await expect(link).toContainText('weights.pkl');
  await expect(link.getByTestId('share-uses')).toHaveText('1 / 3');
  await expect(link.getByTestId('share-state')).toHaveText('live');
  await link.getByTestId('revoke-share').click();
  await expect(link.getByTestId('share-state')).toHaveText('revoked');
  await expect(link.getByTestId('revoke-share')).toHaveCount(0);
  await page.reload();
  await expect(link.getByTestId('share-state')).toHaveText('revoked');

  // The stranger's page now says so, offers nothing, and the file route refuses.
  await stranger.page.reload();
  await expect(stranger.page.getByTestId('shared-state')).toHaveText(
    'This link was revoked by its owner.',
  );
  await expect(stranger.page.getByTestId('shared-file')).toHaveCount(0);
  const refused = await stranger.context.request.get(`${shareUrl}/files/weights.pkl`, {
    maxRedirects: 0,
  });
  expect(refused.status()).toBe(410);
  expect(stranger.errors).toEqual([]);
  await stranger.context.close();

  // Version 2 changes a file, adds one and moves a metric; its page says so.
  await publish(page, model, [
    { path: 'README.md', data: README },
    { path: 'weights.pkl', data: randomBytes(5000) },
    { path: 'config.json', data: Buffer.from('{"depth": 6}') },
  ], { metadata: { framework: 'sklearn', tags: ['e2e'], metrics: { accuracy: 0.95 } } });
  await openVersion(page, model, 2);
  const diff = page.getByTestId('version-diff');
  await expect(diff).toContainText('Changes since version 1');
  await expect(diff.getByTestId('diff-files').locator('[data-change="added"]')).toContainText(
    'config.json',
  );
  await expect(diff.getByTestId('diff-files').locator('[data-change="changed"]')).toContainText(
    'weights.pkl',
  );
  await expect(diff.getByTestId('diff-metadata')).toContainText('accuracy: 0.9 → 0.95');
  await expect(diff.getByTestId('diff-unchanged')).toHaveText('1 file unchanged.');
});

test('compliance reads a version but is offered no share form and no share list', async ({
  page,
  browser,
  baseURL,
}) => {
  const model = modelName('noshare');
  const author = await browser.newPage({ baseURL });
  await signIn(author, 'bob');
  await publish(author, model, [{ path: 'model.onnx', data: randomBytes(64) }]);
  await author.context().close();

  await signIn(page, 'carol');
  await openVersion(page, model, 1);
  await expect(page.getByTestId('version-file')).toHaveCount(1);
  await expect(page.getByTestId('pickle-warning')).toHaveCount(0);
  await expect(page.getByTestId('share-open')).toHaveCount(0);
  await page.goto('/shares');
  await expect(page.getByTestId('no-access')).toBeVisible();
});

test('a link nobody created says it does not exist, with nothing else of Coffer', async ({
  browser,
  baseURL,
}) => {
  const stranger = await recipientPage(browser, baseURL);
  await stranger.page.goto(`/s/${randomBytes(16).toString('base64url')}`);
  await expect(stranger.page.getByTestId('shared-state')).toHaveText('This link does not exist.');
  await expect(stranger.page.getByTestId('shared-file')).toHaveCount(0);
  await expect(stranger.page.getByTestId('nav-home')).toHaveCount(0);
  expect(stranger.errors).toEqual([]);
  await stranger.context.close();
});
