import { createHash, randomBytes } from 'node:crypto';

import type { Browser, Page } from '@playwright/test';
import { test, expect, signIn } from './fixtures';

const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sha256B64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes a version of one small file through the API with the page's
 * session, as a pipeline would: start, the file's single part sent to its
 * presigned URL, complete. Answers the version's number.
 */
async function publish(page: Page, model: string): Promise<number> {
  const me = await page.request.get('/api/v1/me');
  expect(me.status()).toBe(200);
  const csrf = { 'X-CSRF-Token': (await me.json()).csrf_token };
  const data = randomBytes(512);

  // Start: one file, so one part.
  const started = await page.request.post(`/api/v1/models/${model}/uploads`, {
    headers: csrf,
    data: { description: '', metadata: {}, files: [{ path: 'model.bin', size: data.length }] },
  });
  expect(started.status(), await started.text()).toBe(201);
  const upload = await started.json();
  const base = `/api/v1/models/${model}/uploads/${upload.upload_id}`;

  // The part goes straight to the storage, its checksum signed.
  const signed = await page.request.post(`${base}/parts`, {
    headers: csrf,
    data: { file: 0, parts: [{ number: 1, sha256: sha256B64(data) }] },
  });
  expect(signed.status(), await signed.text()).toBe(200);
  const [part] = (await signed.json()).parts;
  const put = await page.request.put(part.url, { headers: part.headers, data });
  expect(put.status(), await put.text()).toBe(200);

  // Completion publishes the version.
  const completed = await page.request.post(`${base}/complete`, {
    headers: csrf,
    data: { files: [{ index: 0, sha256: sha256Hex(data) }] },
  });
  expect(completed.status(), await completed.text()).toBe(200);
  return (await completed.json()).version as number;
}

/** Sets a model's description through the API, as a pipeline would. */
async function describe(page: Page, model: string, description: string) {
  const me = await page.request.get('/api/v1/me');
  const csrf = { 'X-CSRF-Token': (await me.json()).csrf_token };
  const answer = await page.request.put(`/api/v1/models/${model}/description`, {
    headers: csrf,
    data: { description },
  });
  expect(answer.status(), await answer.text()).toBe(200);
}

/** Opens an address under `/models` and waits until the browser runs it. */
async function openLive(page: Page, path: string, testId: string) {
  await page.goto(path);
  await expect(page.getByTestId(testId)).toHaveAttribute('data-ready', 'true');
}

/** The names of the listed models, in order. */
async function listed(page: Page): Promise<string[]> {
  return page
    .getByTestId('model-row')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-model') ?? ''));
}

/** The version numbers of the history's rows, in order. */
async function historyRows(page: Page): Promise<number[]> {
  return page
    .getByTestId('version-row')
    .evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-version'))));
}

/** A second signed-in user in a browser of their own, failing on errors. */
async function otherUser(browser: Browser, baseURL: string | undefined, username: string) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && message.location().url !== page.url()) {
      errors.push(message.text());
    }
  });
  await signIn(page, username);
  return { context, page, errors };
}

// A word only this run's models contain, starting with a letter as names
// must. `alpha` is published before `zulu`, so the two sorts differ.
const tag = `b${randomBytes(4).toString('hex')}`;
const alpha = `${tag}-alpha`;
const zulu = `${tag}-zulu`;

test.describe.configure({ mode: 'serial' });

test('alice finds her models by search, sorts them both ways and pages through them', async ({
  page,
}) => {
  await signIn(page, 'alice');
  await publish(page, alpha);
  await describe(page, alpha, 'Scores card transactions.\nSecond line stays on the model page.');
  // Listings order by update time; keep the two updates apart.
  await sleep(1100);
  await publish(page, zulu);
  await publish(page, zulu);

  // The search narrows the listing to this run's models; matches are
  // ordered by name, whatever the sort.
  await openLive(page, `/models?q=${tag}`, 'models-page');
  expect(await listed(page)).toEqual([alpha, zulu]);
  await expect(page.getByTestId('search-order')).toBeVisible();
  const zuluRow = page.locator(`[data-testid="model-row"][data-model="${zulu}"]`);
  await expect(zuluRow.getByTestId('model-latest')).toHaveText('version 2');
  await expect(zuluRow.getByTestId('model-latest')).toHaveAttribute(
    'href',
    `/models/${zulu}/versions/2`,
  );
  await expect(zuluRow.locator('td.count')).toHaveText('2');
  const alphaRow = page.locator(`[data-testid="model-row"][data-model="${alpha}"]`);
  await expect(alphaRow.locator('td.summary')).toHaveText('Scores card transactions.');

  // Searching the whole name of one model leaves that one.
  await page.getByTestId('models-search').fill(`${tag}-zu`);
  await page.getByTestId('models-go').click();
  await expect(page).toHaveURL(new RegExp(`q=${tag}-zu`));
  await expect(page.getByTestId('model-row')).toHaveCount(1);
  expect(await listed(page)).toEqual([zulu]);

  // Nothing matches a word no model has.
  await openLive(page, `/models?q=${tag}-nothing`, 'models-page');
  await expect(page.getByTestId('models-empty')).toContainText('No models match');
  await expect(page.getByTestId('model-row')).toHaveCount(0);

  // The full list: most recently updated first by default, so zulu (the
  // newer) comes before alpha; choosing the name order submits itself.
  await openLive(page, '/models?limit=100', 'models-page');
  await expect(page.getByTestId('search-order')).toBeHidden();
  let names = await listed(page);
  expect(names.indexOf(zulu)).toBeGreaterThanOrEqual(0);
  expect(names.indexOf(zulu)).toBeLessThan(names.indexOf(alpha));
  await page.getByTestId('models-sort').selectOption('name');
  await expect(page).toHaveURL(/sort=name/);
  await expect(page).toHaveURL(/limit=100/);
  await expect(page.getByTestId('models-page')).toHaveAttribute('data-ready', 'true');
  names = await listed(page);
  expect(names.indexOf(alpha)).toBeGreaterThanOrEqual(0);
  expect(names.indexOf(alpha)).toBeLessThan(names.indexOf(zulu));
  expect(names).toEqual([...names].sort());

  // One row a page: Next carries the cursor and the search.
  await openLive(page, `/models?q=${tag}&limit=1`, 'models-page');
  expect(await listed(page)).toEqual([alpha]);
  await expect(page.getByTestId('models-first')).toHaveCount(0);
  await page.getByTestId('models-next').click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page.getByTestId('model-row')).toHaveAttribute('data-model', zulu);
  await expect(page.getByTestId('models-first')).toBeVisible();

  // The second page's address works on its own, rendered by the server.
  const second = page.url();
  await page.reload();
  expect(await listed(page)).toEqual([zulu]);

  // Whatever pages follow hold nothing more of ours. (A match index may
  // end with a page that comes out empty.)
  const later: string[] = [];
  for (let pages = 0; pages < 5 && (await page.getByTestId('models-next').count()) > 0; pages++) {
    const current = page.url();
    await page.getByTestId('models-next').click();
    await expect(page).not.toHaveURL(current);
    await expect(page.getByTestId('models-first')).toBeVisible();
    later.push(...(await listed(page)));
  }
  expect(later).toEqual([]);
  await expect(page.getByTestId('models-next')).toHaveCount(0);

  // First page goes back to the start.
  await page.goto(second);
  await page.getByTestId('models-first').click();
  await expect(page.getByTestId('model-row')).toHaveAttribute('data-model', alpha);
  await expect(page.getByTestId('models-first')).toHaveCount(0);
});

test('alice edits the description and moves production between versions', async ({ page }) => {
  await signIn(page, 'alice');
  await openLive(page, `/models/${zulu}`, 'model-page');
  await expect(page.getByTestId('model-title')).toHaveText(zulu);
  expect(await historyRows(page)).toEqual([2, 1]);
  await expect(page.getByTestId('older-versions')).toHaveCount(0);

  // The new description shows at once, line breaks kept, and is stored.
  const description = 'Ranks search results.\nRetrained on December data.';
  await page.getByTestId('edit-description').click();
  await page.getByTestId('description-input').fill(description);
  await page.getByTestId('save-description').click();
  await expect(page.getByTestId('description-input')).toHaveCount(0);
  await expect(page.getByTestId('model-description')).toHaveText(description);
  await openLive(page, `/models/${zulu}`, 'model-page');
  expect(await page.getByTestId('model-description').textContent()).toBe(description);
  expect(await page.getByTestId('model-description').innerText()).toContain('\n');

  // production goes to version 1: a chip and the row's mark follow.
  const chip = page.locator('[data-testid="alias-chip"][data-alias="production"]');
  const row = (version: number) =>
    page.locator(`[data-testid="version-row"][data-version="${version}"]`);
  await expect(chip).toHaveCount(0);
  await page.getByTestId('alias-name').fill('production');
  await page.getByTestId('alias-version').selectOption('1');
  await page.getByTestId('move-alias').click();
  await expect(chip).toContainText('production → version 1');
  await expect(chip.locator('a')).toHaveAttribute('href', `/models/${zulu}/versions/1`);
  await expect(row(1).getByTestId('version-alias')).toHaveText(['production']);
  await expect(row(2).getByTestId('version-alias')).toHaveCount(0);

  // Then to version 2, in place.
  await page.getByTestId('alias-version').selectOption('2');
  await page.getByTestId('move-alias').click();
  await expect(chip).toContainText('production → version 2');
  await expect(row(2).getByTestId('version-alias')).toHaveText(['production']);
  await expect(row(1).getByTestId('version-alias')).toHaveCount(0);

  // A second alias, removed again with its ×.
  await page.getByTestId('alias-name').fill('staging');
  await page.getByTestId('alias-version').selectOption('1');
  await page.getByTestId('move-alias').click();
  const staging = page.locator('[data-testid="alias-chip"][data-alias="staging"]');
  await expect(staging).toContainText('staging → version 1');
  await expect(page.getByTestId('alias-error')).toBeEmpty();
  await staging.getByTestId('remove-alias').click();
  await expect(staging).toHaveCount(0);

  // The server kept what the page shows.
  await openLive(page, `/models/${zulu}`, 'model-page');
  await expect(page.getByTestId('alias-chip')).toHaveCount(1);
  await expect(chip).toContainText('production → version 2');
  await expect(row(2).getByTestId('version-alias')).toHaveText(['production']);
  const detail = await page.request.get(`/api/v1/models/${zulu}`);
  expect(detail.status()).toBe(200);
  const stored = await detail.json();
  expect(stored.description).toBe(description);
  expect(stored.aliases).toEqual({ production: 2 });
});

test("the API's refusal of a move shows on the page and changes nothing", async ({
  browser,
  baseURL,
}) => {
  // The browser logs the refused request itself; that one is expected.
  const alice = await otherUser(browser, baseURL, 'alice');
  await openLive(alice.page, `/models/${zulu}`, 'model-page');
  await alice.page.getByTestId('alias-name').fill('Not A Name!');
  await alice.page.getByTestId('move-alias').click();
  await expect(alice.page.getByTestId('alias-error')).not.toBeEmpty();
  await expect(alice.page.getByTestId('alias-chip')).toHaveCount(1);
  const unexpected = alice.errors.filter((error) => !error.includes('status of 400'));
  expect(unexpected).toEqual([]);
  expect(alice.errors.length).toBe(1);

  // Nothing changed on the server either.
  const detail = await alice.page.request.get(`/api/v1/models/${zulu}`);
  expect((await detail.json()).aliases).toEqual({ production: 2 });
  await alice.context.close();
});

test('older versions page through the history', async ({ page }) => {
  await signIn(page, 'alice');

  // The page shows the newest versions; `below` asks for older ones.
  await openLive(page, `/models/${zulu}?below=2`, 'model-page');
  expect(await historyRows(page)).toEqual([1]);
  await expect(page.getByTestId('newest-versions')).toBeVisible();
  await page.getByTestId('newest-versions').click();
  await expect(page).toHaveURL(new RegExp(`/models/${zulu}$`));
  await expect.poll(() => historyRows(page)).toEqual([2, 1]);
});

test('a missing model answers 404 with a message', async ({ page }) => {
  await signIn(page, 'alice');
  const response = await page.goto(`/models/${tag}-missing`);
  expect(response?.status()).toBe(404);
  await expect(page.getByTestId('model-error')).toContainText('no model of this name');
});

test('compliance reads the model without edit controls; a user without a group gets no access', async ({
  browser,
  baseURL,
}) => {
  // carol sees what alice set, and nothing to change it with.
  const carol = await otherUser(browser, baseURL, 'carol');
  await openLive(carol.page, `/models/${zulu}`, 'model-page');
  await expect(carol.page.getByTestId('model-title')).toHaveText(zulu);
  await expect(
    carol.page.locator('[data-testid="alias-chip"][data-alias="production"]'),
  ).toContainText('version 2');
  for (const control of ['edit-description', 'alias-name', 'move-alias', 'remove-alias']) {
    await expect(carol.page.getByTestId(control)).toHaveCount(0);
  }
  await openLive(carol.page, `/models?q=${tag}`, 'models-page');
  await expect(carol.page.getByTestId('model-row')).toHaveCount(2);
  expect(carol.errors).toEqual([]);
  await carol.context.close();

  // erin has no role: both pages refuse her.
  const erin = await otherUser(browser, baseURL, 'erin');
  for (const path of ['/models', `/models/${zulu}`]) {
    const response = await erin.page.goto(path);
    expect(response?.status()).toBe(403);
    await expect(erin.page.getByTestId('no-access')).toBeVisible();
    await expect(erin.page.getByTestId('model-row')).toHaveCount(0);
    await expect(erin.page.getByTestId('model-title')).toHaveCount(0);
  }
  expect(erin.errors).toEqual([]);
  await erin.context.close();
});
