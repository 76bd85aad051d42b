/**
 * Devices for the e2e suites: a device is a fresh browser context (its own IndexedDB, storage
 * and service worker) with one page, whose console errors and uncaught exceptions are collected.
 * Plus the few page helpers every suite uses to sign in and move around the app.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterEach, expect } from 'vitest';
import { ARTIFACTS } from './harness';

/** How long any single expectation may take to come true. Generous: the machine running the suite may be shared and busy. */
export const DEADLINE = 30_000;
/** The desktop viewport every device starts with. */
export const DESKTOP = { width: 1200, height: 860 } as const;

export interface Device {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught exceptions seen on this device, each prefixed with its name. */
  readonly errors: string[];
  /** The page's HTTP requests not finished yet. */
  readonly inFlight: ReadonlySet<Request>;
}

export interface DeviceOptions {
  /** Needed by tests that save what the app downloads. */
  readonly acceptDownloads?: boolean;
}

/** Opens a new device. The caller closes its context. */
export async function openDevice(browser: Browser, name: string, options: DeviceOptions = {}): Promise<Device> {
  const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: options.acceptDownloads ?? false });
  // A missing element should not hold the run for longer than any other expectation.
  context.setDefaultTimeout(DEADLINE);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${name}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${name}: ${err.message}`));
  const inFlight = new Set<Request>();
  page.on('request', (r) => inFlight.add(r));
  page.on('requestfinished', (r) => inFlight.delete(r));
  page.on('requestfailed', (r) => inFlight.delete(r));
  return { name, context, page, errors, inFlight };
}

/**
 * Takes the device offline once none of its requests is in flight. A request the network drop
 * cuts off makes Chromium log "Failed to load resource" however the app handles it; the app
 * starting one while offline would be a defect, and still shows as an error.
 */
export async function goOffline(d: Device): Promise<void> {
  await expect.poll(() => d.inFlight.size, { timeout: DEADLINE }).toBe(0);
  await d.context.setOffline(true);
}

/**
 * Registers, in the calling `describe`, an `afterEach` that closes every device the test opened
 * with the returned function and fails the test if any of them logged a console error or threw,
 * online or offline. So the check covers every device each test used, whichever tests run.
 */
export function devicesPerTest(browser: () => Browser): (name: string, options?: DeviceOptions) => Promise<Device> {
  let opened: Device[] = [];
  afterEach(async () => {
    const devices = opened;
    opened = [];
    const errors = devices.flatMap((d) => d.errors);
    for (const d of devices) await d.context.close();
    expect(errors, 'no console error was logged').toEqual([]);
  });
  return async (name, options) => {
    const device = await openDevice(browser(), name, options);
    opened.push(device);
    return device;
  };
}

export const h1 = (d: Device): Promise<string> => d.page.locator('main h1').innerText();

const navLink = (d: Device, label: string) => d.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true });

/** Clicks a link of the main navigation without waiting for the screen (a guard may refuse to leave). */
export async function clickNav(d: Device, label: string): Promise<void> {
  await navLink(d, label).click();
}

/** Follows a link of the main navigation, until its screen shows. */
export async function nav(d: Device, label: string): Promise<void> {
  await clickNav(d, label);
  // The click only changes the address; the screen follows on `hashchange`, in the same render
  // that marks the link current. Until then the last screen is still there to be found.
  await expect.poll(() => navLink(d, label).getAttribute('aria-current'), { timeout: DEADLINE }).toBe('page');
}

/** Opens a screen by its address and waits for its heading. */
export async function goTo(d: Device, hash: string, title: string | RegExp): Promise<void> {
  await d.page.evaluate((h) => (location.hash = h), hash);
  await expect.poll(() => h1(d), { timeout: DEADLINE }).toMatch(title);
}

/** The device's session token, as the app stored it. */
export const token = (d: Device): Promise<string> =>
  d.page.evaluate(() => (JSON.parse(localStorage.getItem('prepmate.session.v1') ?? '{}') as { token?: string }).token ?? '');

export const shot = (d: Device, file: string): Promise<Buffer> => d.page.screenshot({ path: join(ARTIFACTS, file), fullPage: true, animations: 'disabled' });

/** On the sign-in screen: signs in as `userId` with the mouse or the keyboard and waits for the dashboard. */
export async function signIn(d: Device, userId: string, how: 'mouse' | 'keyboard' = 'mouse'): Promise<void> {
  await d.page.getByLabel('Learner id').fill(userId);
  if (how === 'mouse') await d.page.getByRole('button', { name: 'Continue' }).click();
  else await d.page.getByLabel('Learner id').press('Enter');
  await expect.poll(() => h1(d), { timeout: DEADLINE }).toBe('Your practice');
}

/**
 * Waits until the app shell is cached, so the device can reload offline: an activated worker has
 * finished its precache. Whether it already controls this first page (clients.claim) does not
 * matter — an offline reload is what proves the shell is served from the cache.
 */
export async function serviceWorkerActive(d: Device): Promise<void> {
  const state = (): Promise<string> =>
    d.page.evaluate(async () => {
      const regs = await navigator.serviceWorker.getRegistrations();
      const states = regs.map((r) => `${r.active?.state ?? '-'}/${r.installing?.state ?? '-'}/${r.waiting?.state ?? '-'}`);
      return regs.some((r) => r.active?.state === 'activated') ? 'activated' : `not activated; registrations: [${states.join(', ')}]`;
    });
  await expect.poll(state, { timeout: DEADLINE, message: `${d.name}: service worker activated` }).toBe('activated');
}

/** Opens the app at `url`, signs in as `userId`, and waits for the app shell to be cached. */
export async function openSignedIn(d: Device, url: string, userId: string, how: 'mouse' | 'keyboard' = 'mouse'): Promise<void> {
  await d.page.goto(url);
  await signIn(d, userId, how);
  await serviceWorkerActive(d);
}

/** A learner id no other test (in this run or an earlier one against the same server) uses. */
export function freshLearnerId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
