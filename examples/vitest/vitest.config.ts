import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Creates the emulator's CA once and exports NODE_EXTRA_CA_CERTS before the test workers start.
    globalSetup: ['iothub-emulator/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
