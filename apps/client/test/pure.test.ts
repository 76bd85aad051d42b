import { describe, expect, it } from 'vitest';
import { apiEndpoints } from '../src/config/api';
import { relativeTime, topicLabel } from '../src/format';
import { historyHref, logHref, parseHash, topicHref } from '../src/router';
import { describeUserAgent } from '../src/sdk/browser-session';
import { summarizeSync, whereYourDataIs } from '../src/sync-summary';
import { ONLINE } from './fakes';

describe('router', () => {
  it('when a hash is parsed, then it names the screen and its parameters', () => {
    expect(parseHash('')).toMatchObject({ name: 'dashboard' });
    expect(parseHash('#/')).toMatchObject({ name: 'dashboard' });
    expect(parseHash('#/log')).toMatchObject({ name: 'log' });
    expect(parseHash('#/sync')).toMatchObject({ name: 'sync' });
    expect(parseHash(topicHref('a b/c'))).toMatchObject({ name: 'topic', params: { topicId: 'a b/c' } });
    expect(parseHash('#/topics/%E0%A4%A')).toMatchObject({ name: 'topic', params: { topicId: '%E0%A4%A' } });
    expect(parseHash('#main')).toMatchObject({ name: 'notFound' });
    expect(parseHash(historyHref())).toMatchObject({ name: 'history', params: {} });
    expect(parseHash(historyHref('c++'))).toMatchObject({ name: 'history', params: { topicId: 'c++' } });
    expect(parseHash(logHref('sql'))).toMatchObject({ name: 'log', params: { topicId: 'sql' } });
    expect(parseHash('#/account')).toMatchObject({ name: 'account' });
    expect(parseHash('#/account/x')).toMatchObject({ name: 'notFound' });
  });
});

describe('API endpoints', () => {
  it('when VITE_API_URL is unset or blank, then the page origin serves REST and the socket', () => {
    expect(apiEndpoints(undefined, 'https://app.example')).toEqual({ apiBaseUrl: 'https://app.example', wsUrl: 'wss://app.example/sync' });
    expect(apiEndpoints('  ', 'http://localhost:5173')).toEqual({ apiBaseUrl: 'http://localhost:5173', wsUrl: 'ws://localhost:5173/sync' });
  });

  it('when VITE_API_URL is set, then it wins (path prefix kept, trailing slash dropped), and a bad one fails loudly', () => {
    expect(apiEndpoints('http://127.0.0.1:5000/', 'http://localhost:5173')).toEqual({ apiBaseUrl: 'http://127.0.0.1:5000', wsUrl: 'ws://127.0.0.1:5000/sync' });
    expect(apiEndpoints('https://api.example/prep/', 'http://x')).toEqual({ apiBaseUrl: 'https://api.example/prep', wsUrl: 'wss://api.example/prep/sync' });
    expect(() => apiEndpoints('api.example', 'http://x')).toThrow(/VITE_API_URL is not a URL/);
    expect(() => apiEndpoints('ftp://api.example', 'http://x')).toThrow(/http\(s\)/);
  });
});

describe('sync summary', () => {
  it('when changes are not acknowledged by the server, then it never says saved', () => {
    expect(summarizeSync(ONLINE).label).toBe('All changes saved');
    expect(summarizeSync({ ...ONLINE, unsavedChanges: 1 }).label).toBe('Saving…');
    expect(summarizeSync({ ...ONLINE, connected: false }).label).toBe('Connecting…');
    expect(summarizeSync({ ...ONLINE, online: false, connected: false, unsavedChanges: 1 }).label).toBe('Offline · 1 change on this device');
    expect(summarizeSync({ ...ONLINE, synced: false }).label).toBe('Syncing…');
  });

  it('when the panel says where the data is, then it is one plain sentence that matches the state', () => {
    expect(whereYourDataIs(ONLINE)).toMatch(/^Everything you record is saved on this device .*; right now both copies are the same\.$/);
    expect(whereYourDataIs({ ...ONLINE, unsavedChanges: 3 })).toMatch(/right now 3 changes are only on this device, and they will be copied in a moment\.$/);
    expect(whereYourDataIs({ ...ONLINE, online: false, connected: false })).toMatch(/not connected, and nothing is waiting to be copied\.$/);
    for (const s of [ONLINE, { ...ONLINE, unsavedChanges: 1 }]) expect(whereYourDataIs(s)).not.toMatch(/socket|outbox|ack|CRDT/i);
  });
});

describe('format', () => {
  it('when ids and times are shown, then they read naturally', () => {
    expect(topicLabel('system-design')).toBe('System design');
    expect(topicLabel('sql_window-functions')).toBe('SQL window functions');
    expect(relativeTime(null)).toBe('never');
    expect(relativeTime(1_000_000, 1_000_000 + 5_000)).toBe('just now');
    expect(relativeTime(0, 3 * 3600_000)).toBe('3 h ago');
    expect(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36')).toBe('Chrome on Linux');
  });
});
