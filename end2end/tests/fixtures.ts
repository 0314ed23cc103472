import { test as base, expect, type Page } from '@playwright/test';

/** The demo accounts' shared password (development provider only). */
export const DEMO_PASSWORD = 'coffer-demo';

/**
 * Signs a demo user in through the real flow: Coffer's /login, the
 * development provider's form, and the callback back to Coffer.
 */
export async function signIn(page: Page, username: string, next = '/') {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await submitSignInForm(page, username);
  await expect(page.getByTestId('current-user')).toHaveText(username);
}

/** Fills and sends the provider's sign-in form on the current page. */
export async function submitSignInForm(page: Page, username: string) {
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(DEMO_PASSWORD);
  await page.locator('input[name="password"]').press('Enter');
}

/**
 * A page that fails the test on any script error or console error, so a
 * hydration mismatch cannot pass unnoticed.
 */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // A page answered with 403 or 404 on purpose logs its own status;
      // that is the test's business, not a browser error.
      const aboutDocument = message.location().url === page.url();
      if (message.type() === 'error' && !aboutDocument) {
        errors.push(`${message.text()} (${message.location().url})`);
      }
    });
    await use(page);
    expect(errors, 'browser errors').toEqual([]);
  },
});

export { expect };
