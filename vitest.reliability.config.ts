import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: replay, faults, bad input and access (test/reliability). Every file reports its
 * counters to the global setup, which prints one summary line at the end of the run:
 * `events=N faults=N inputs=N races=N oversize=N poison=N lost=N doubled=N crashes=N` (races: forced interleavings of
 * concurrent writers checked against ground truth; oversize: dead letters whose payload
 * is in Blob storage; poison: batches quarantined).
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/reliability/support/summary-setup.ts'],
    // One file at a time: each drives the whole local stack, and two at once on a 2-core machine starve each other.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
