import { defineConfig } from 'vitest/config';

// Two projects:
//  - unit: fast, parallel, no root needed beyond what each test states with needs().
//  - lab:  integration tests that share ONE lab cluster (global setup/teardown), run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Vitest's default on 2 cores is ONE worker. These tests mostly wait on real daemons,
          // timeouts and namespaces (CPU time is under half the wall time), and each uses its own
          // ports, namespaces and directories, so four files run side by side.
          maxWorkers: 4,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          // ONE lab (two heads + client in namespaces) shared by every file: see docs/lab.md
          globalSetup: ['test/lab/global-setup.ts'],
          // each file waits there until the lab, booting in the background, is up
          setupFiles: ['test/lab/ready.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
