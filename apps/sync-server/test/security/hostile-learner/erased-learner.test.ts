import { SignJWT } from 'jose';
import { afterEach, beforeEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { trackBody, uid } from '../../api/fixtures.js';
import { describeEachKind, JWT_SECRET, openDatabase, start, type Client, type TestDatabase } from '../harness.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A token minted a minute ago: the device that holds it has not heard of the erasure. */
const oldToken = (userId: string): Promise<string> =>
  new SignJWT({ sub: userId, iat: nowSeconds() - 60, exp: nowSeconds() + 600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(JWT_SECRET));

/** The close code of a socket to the learner's document, or 'open' when it stays open until we close it. */
function socketOutcome(client: Client, userId: string, token: string): Promise<number | 'open'> {
  const ws = new WebSocket(`${client.server.url.replace(/^http/, 'ws')}/sync/${userId}?token=${encodeURIComponent(token)}`);
  return new Promise((resolve, reject) => {
    let opened = false;
    ws.on('error', reject);
    ws.on('message', () => {
      // The server answered a sync message: the socket serves the document.
      if (opened) {
        resolve('open');
        ws.close();
      }
    });
    ws.on('open', () => {
      opened = true;
    });
    ws.on('close', (code) => resolve(code));
  });
}

/** After erasure, every device of that learner forgets the data at its next connection: old tokens get 410 and 4410. */
describeEachKind('hostile learner: a token issued before its learner was erased', (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await openDatabase(kind);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('when a learner is erased, then a token issued before gets 410 on REST and 4410 on the socket, also after a restart, and a new token works', async () => {
    const first = await start(db);
    const userId = uid('erased');
    const stale = await oldToken(userId);
    expect((await first.request('POST', '/api/telemetry/track', { token: stale, body: trackBody(uid('evt')) })).status).toBe(200);
    expect(await socketOutcome(first, userId, stale)).toBe('open');

    expect((await first.request('DELETE', '/api/users/me', { token: await first.token(userId) })).status).toBe(200);
    const gone = await first.request('GET', '/api/progress', { token: stale });
    expect(gone.status).toBe(410);
    expect(gone.json).toMatchObject({ success: false, error: { code: 'GONE' } });
    expect(await socketOutcome(first, userId, stale)).toBe(4410);
    await first.stop();

    const second = await start(db);
    try {
      expect((await second.request('GET', '/api/progress', { token: stale })).status).toBe(410);
      expect(await socketOutcome(second, userId, stale)).toBe(4410);
      // Signing in again after the erasure gives a token that works.
      const fresh = await second.token(userId);
      expect((await second.request('GET', '/api/progress', { token: fresh })).status).toBe(200);
      expect(await socketOutcome(second, userId, fresh)).toBe('open');
      // Nothing identifying is kept: the erasure fact names a pseudonym.
      const rows = [...(await db.dump()).values()].flat().join('\n');
      expect(rows).not.toContain(userId);
    } finally {
      await second.stop();
    }
  });
});
