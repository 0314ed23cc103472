import { test, expect, signIn, submitSignInForm } from './fixtures';

test('alice signs in through the form and sees the data-scientist navigation', async ({ page }) => {
  await signIn(page, 'alice');

  await expect(page.getByTestId('current-roles')).toHaveText('data-scientist');
  await expect(page.getByTestId('nav-upload')).toBeVisible();
  await expect(page.getByTestId('nav-models')).toBeVisible();
  await expect(page.getByTestId('nav-shares')).toBeVisible();
  await expect(page.getByTestId('nav-audit')).toHaveCount(0);
});

test('carol sees the audit link and no upload link', async ({ page }) => {
  await signIn(page, 'carol');

  await expect(page.getByTestId('current-roles')).toHaveText('compliance');
  await expect(page.getByTestId('nav-audit')).toBeVisible();
  await expect(page.getByTestId('nav-upload')).toHaveCount(0);
});

test('carol is refused the upload page', async ({ page }) => {
  await signIn(page, 'carol');

  const response = await page.goto('/upload');
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('no-access')).toBeVisible();
});

test('a signed-out visitor to /upload is sent to sign in, then brought back', async ({ page }) => {
  await page.goto('/upload');

  await expect(page.locator('input[name="username"]')).toBeVisible();
  expect(new URL(page.url()).pathname).toContain('/dev-idp/');

  await submitSignInForm(page, 'alice');
  await expect(page).toHaveURL(/\/upload$/);
  await expect(page.getByTestId('current-user')).toHaveText('alice');
});

test('erin, in no group, gets a clear no-access page', async ({ page }) => {
  await signIn(page, 'erin');

  await expect(page.getByTestId('no-access')).toBeVisible();
  await expect(page.getByTestId('nav-models')).toHaveCount(0);
});

test('checking the session works once the page is hydrated', async ({ page }) => {
  await signIn(page, 'dave');

  // The button only acts through the hydrated bundle.
  await page.getByTestId('check-session').click();
  await expect(page.getByTestId('session-status')).toContainText('Signed in as dave');
  await expect(page.getByTestId('session-status')).toContainText('admin');
});

test('signing out ends the session', async ({ page }) => {
  await signIn(page, 'bob');

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('sign-in')).toBeVisible();

  await page.goto('/models');
  await expect(page.locator('input[name="username"]')).toBeVisible();
});

test('every page says when development sign-in is on', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('dev-idp-banner')).toBeVisible();
});
