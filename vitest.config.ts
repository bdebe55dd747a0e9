import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The replay, fault and fuzzing suite runs on its own with its summary line: npm run test:reliability.
    exclude: ['test/reliability/**', 'node_modules/**'],
    globalSetup: ['test/support/build-dashboard.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
