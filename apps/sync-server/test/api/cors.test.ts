import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openStore, startApi, type ApiHarness, type OpenedStore } from '../helpers/api.js';
import { trackBody, uid } from './fixtures.js';

/** An app served from another origin than the API (`CLIENT_URL`), as the browser checks it. */
describe('CORS for CLIENT_URL', () => {
  const app = 'http://localhost:3000';
  let opened: OpenedStore;
  let api: ApiHarness;

  beforeAll(async () => {
    opened = await openStore('sqlite');
    // A trailing slash, as people write it: the browser's Origin header has none.
    api = await startApi({ store: opened.store, env: { CLIENT_URL: `${app}/, https://app.example.com`, AUTH_MODE: 'jwt' } });
  });
  afterAll(async () => {
    await api?.close();
    await opened?.dispose();
  });

  it('when the app origin preflights a telemetry POST, then it is allowed with the headers the SDK sends', async () => {
    const res = await api.request('OPTIONS', '/api/telemetry/batch', {
      headers: { origin: app, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, content-encoding' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(app);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toEqual(expect.stringContaining('authorization'));
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toEqual(expect.stringContaining('content-encoding'));
  });

  it('when the app origin sends the request, then the answer may be read by it; another origin gets no grant', async () => {
    const token = await api.token(uid('u'));
    const ok = await api.request('POST', '/api/telemetry/track', { token, body: trackBody(uid('e')), headers: { origin: app } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(app);
    expect(ok.headers.get('access-control-expose-headers')).toContain('Retry-After');
    const other = await api.request('OPTIONS', '/api/telemetry/batch', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('when CLIENT_URL is not a list of origins, then the server refuses to start and says why', () => {
    for (const bad of ['localhost:3000', 'http://localhost:3000/app', 'ftp://files.example']) {
      expect(() => loadConfig({ CLIENT_URL: bad })).toThrow(/CLIENT_URL=.*accepts comma-separated origins/);
    }
    expect(loadConfig({ CLIENT_URL: 'https://a.example/, http://localhost:3000' }).CLIENT_URL).toBe('https://a.example,http://localhost:3000');
  });
});
