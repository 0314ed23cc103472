import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

import { test, expect, type Browser, type Page } from '@playwright/test';
import { signIn } from '../tests/fixtures';

// Set by the benchmark binary (server/benches/upload_page.rs).
const file = required('COFFER_BENCH_FILE');
const sha256 = required('COFFER_BENCH_SHA256');
const result = required('COFFER_BENCH_RESULT');
const uploads = Number(process.env.COFFER_BENCH_UPLOADS ?? '1');

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through \`make bench\``);
  return value;
}

/** A signed-in upload page, taken over by the browser, with the file picked. */
async function preparedPage(browser: Browser, user: string, model: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, user, '/upload');
  await expect(page.getByTestId('upload-page')).toHaveAttribute('data-ready', 'true');
  await page.getByTestId('model-name').fill(model);
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('file-row')).toHaveCount(1);
  return page;
}

/** Seconds from the click on "start" to the link to the new version. */
async function timedUpload(page: Page): Promise<number> {
  const started = performance.now();
  await page.getByTestId('start-upload').click();
  await expect(page.getByTestId('upload-done')).toBeVisible({ timeout: 30 * 60_000 });
  return (performance.now() - started) / 1000;
}

test(`${uploads} page upload(s) of the benchmark file`, async ({ browser }) => {
  // Every page is ready before any starts, so they really run at once.
  const run = randomBytes(4).toString('hex');
  const models = Array.from({ length: uploads }, (_, i) => `bench-${run}-${i}`);
  const pages = await Promise.all(
    models.map((model, i) => preparedPage(browser, i % 2 === 0 ? 'alice' : 'bob', model)),
  );
  const seconds = await Promise.all(pages.map(timedUpload));

  // A figure counts only if the version holds the very bytes sent.
  for (const [i, page] of pages.entries()) {
    const answer = await page.request.get(`/api/v1/models/${models[i]}/versions/1`);
    expect(answer.status()).toBe(200);
    const version = await answer.json();
    expect(version.state).toBe('available');
    expect(version.files[0].sha256).toBe(sha256);
  }
  await writeFile(result, JSON.stringify(seconds));
});
