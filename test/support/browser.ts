import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it): Playwright's own download does not work here. */
export const CHROMIUM = process.env.IOTHUB_EMULATOR_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium as this machine runs it: as root it needs --no-sandbox, and without the
 * background-networking flags it keeps dialling Google's hosts, which the closed network refuses.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run apt-get install -y chromium (or set IOTHUB_EMULATOR_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where the browser tests put their screenshots; IOTHUB_EMULATOR_SCREENSHOTS=docs/dashboard refreshes the README's. */
export function screenshotDir(): string {
  const dir = process.env.IOTHUB_EMULATOR_SCREENSHOTS
    ? path.resolve(process.env.IOTHUB_EMULATOR_SCREENSHOTS)
    : path.join(os.tmpdir(), 'iothub-emulator-dashboard-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(screenshotDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
