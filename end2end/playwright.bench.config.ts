import { defineConfig } from '@playwright/test';

// The page half of `make bench`: the benchmark binary starts the server
// and says where it listens; nothing here starts one.
const baseURL = process.env.COFFER_BENCH_URL;
if (!baseURL) {
  throw new Error('COFFER_BENCH_URL is not set: run the page benchmark through `make bench`');
}

export default defineConfig({
  testDir: './bench',
  testMatch: '*.bench.ts',
  timeout: 30 * 60_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL,
    launchOptions: {
      // Debian's chromium; Playwright never downloads its own browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
