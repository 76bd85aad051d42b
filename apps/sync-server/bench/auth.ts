/**
 * `npm run bench` (third part): what verifying a token costs per WebSocket upgrade, HS256 checked
 * inline against identity-provider tokens (RS256, ES256) verified through JWT_JWKS_URL (key set
 * fetched and cached by jose, signature checked inline). One server process per mode (`servers/ours.mjs` from dist/), a local JWKS
 * endpoint in this process, and a 500-socket reconnect storm: every socket closes and all 500
 * reconnect at once to documents that are still loaded, so the upgrade is mostly token checking.
 *
 * Per mode and round, one JSON line: upgrade latency p50/p99 (request to `open`, client clock),
 * the storm's wall time, and the server's CPU per upgrade (utime + stime from /proc). Then an
 * in-process line per mode: CPU per `verify()` alone, sequential, beside jose's own `jwtVerify`. Medians over BENCH_AUTH_ROUNDS
 * (default 3), modes interleaved and rotated.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import WebSocket from 'ws';
import { createJwksVerifier } from '../src/auth/jwks.js';
import { createTokenService } from '../src/auth/tokens.js';
import { cpuSeconds, percentile, syncPortOf } from './proc.js';

type Mode = 'hs256-inline' | 'rs256-jwks' | 'es256-jwks';
const MODES: Mode[] = ['hs256-inline', 'rs256-jwks', 'es256-jwks'];
const SOCKETS = 500;
const DOCS = 50;
const ROUNDS = Math.max(1, Number(process.env['BENCH_AUTH_ROUNDS'] ?? 3) || 1);
const SECRET = 'bench-secret-of-at-least-thirty-two-characters';
const root = fileURLToPath(new URL('..', import.meta.url));

type Line = Record<string, number | string>;
const results: Line[] = [];
const print = (line: Line): void => {
  results.push(line);
  process.stdout.write(JSON.stringify(line) + '\n');
};

interface Signer {
  readonly jwk: JWK | null;
  sign(userId: string): Promise<string>;
}

async function signerFor(mode: Mode): Promise<Signer> {
  if (mode === 'hs256-inline') {
    const tokens = createTokenService(SECRET);
    return { jwk: null, sign: (userId) => tokens.sign(userId, { expiresInSeconds: 3600 }) };
  }
  const alg = mode === 'rs256-jwks' ? 'RS256' : 'ES256';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: `${alg}-bench`, alg };
  return { jwk, sign: (userId) => providerToken(privateKey, alg, jwk.kid, userId) };
}

function providerToken(key: CryptoKey, alg: string, kid: string, userId: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject(userId).setIssuedAt().setExpirationTime('1h').sign(key);
}

async function startJwks(keys: JWK[]): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys })));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/jwks.json`,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

async function startOurs(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'prepmate-bench-auth-'));
  const child = spawn(process.execPath, ['bench/servers/ours.mjs'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', DATA_DIR: dataDir, JWT_SECRET: SECRET, SYNC_RATE: '1000000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await syncPortOf(child, 'server');
  return {
    child,
    port,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Opens every URL at once; resolves with each socket's time to `open`, ms. */
async function storm(urls: readonly string[]): Promise<{ sockets: WebSocket[]; latencies: number[] }> {
  const sockets: WebSocket[] = [];
  const latencies = await Promise.all(
    urls.map(
      (url) =>
        new Promise<number>((resolve, reject) => {
          const started = performance.now();
          const ws = new WebSocket(url);
          sockets.push(ws);
          ws.once('open', () => resolve(performance.now() - started));
          ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
          ws.once('error', reject);
        }),
    ),
  );
  return { sockets, latencies };
}

async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((resolve) => (ws.once('close', () => resolve()), ws.close())))),
  );
}

async function runStorm(mode: Mode, round: number): Promise<void> {
  const signer = await signerFor(mode);
  const jwks = signer.jwk ? await startJwks([signer.jwk]) : null;
  const server = await startOurs(jwks ? { JWT_JWKS_URL: jwks.url } : {});
  const pid = server.child.pid ?? 0;
  try {
    // One token per learner, learner i on document `storm<i % DOCS>`... each learner owns its
    // document, so 10 sockets (devices) per learner.
    const tokens = await Promise.all(Array.from({ length: DOCS }, (_, i) => signer.sign(`storm${i}`)));
    const urls = Array.from({ length: SOCKETS }, (_, i) => `ws://127.0.0.1:${server.port}/sync/storm${i % DOCS}?token=${tokens[i % DOCS]}`);
    // First connection: loads the documents (and, for JWKS, fetches the key set once).
    const first = await storm(urls);
    await closeAll(first.sockets);
    // The reconnect storm: all at once, documents still loaded (unload grace 2 s).
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const again = await storm(urls);
    const wallMs = performance.now() - t0;
    const cpuMs = (cpuSeconds(pid) - cpu0) * 1000;
    await closeAll(again.sockets);
    const sorted = again.latencies.sort((a, b) => a - b);
    print({
      bench: 'auth',
      metric: 'reconnect_storm',
      mode,
      round,
      sockets: SOCKETS,
      upgrade_p50_ms: Math.round(percentile(sorted, 50) * 10) / 10,
      upgrade_p99_ms: Math.round(percentile(sorted, 99) * 10) / 10,
      storm_ms: Math.round(wallMs),
      server_cpu_ms_per_upgrade: Math.round((cpuMs / SOCKETS) * 1000) / 1000,
    });
  } finally {
    await server.stop();
    await jwks?.close();
  }
}

/** CPU of `verify()` alone in this process, sequential, after a warm-up. */
async function runVerify(mode: Mode): Promise<void> {
  const signer = await signerFor(mode);
  const jwks = signer.jwk ? await startJwks([signer.jwk]) : null;
  try {
    const tokens = createTokenService(SECRET, jwks ? { jwks: createJwksVerifier({ url: new URL(jwks.url), cacheMaxAgeMs: 600_000, cooldownMs: 30_000 }) } : {});
    const token = await signer.sign('verify');
    for (let i = 0; i < 200; i++) await tokens.verify(token);
    const n = 2000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await tokens.verify(token);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    // For comparison, jose's own jwtVerify (WebCrypto) on the same key set: what the inline
    // signature check replaces.
    let joseCpu: number | string = 'n/a';
    if (jwks) {
      const set = createRemoteJWKSet(new URL(jwks.url));
      for (let i = 0; i < 200; i++) await jwtVerify(token, set);
      const j0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await jwtVerify(token, set);
      const j = process.cpuUsage(j0);
      joseCpu = Math.round((j.user + j.system) / n);
    }
    print({
      bench: 'auth',
      metric: 'verify_sequential',
      mode,
      verifications: n,
      wall_us_per_verify: Math.round((wall * 1000) / n),
      cpu_us_per_verify: Math.round((cpu.user + cpu.system) / n),
      jose_jwtVerify_cpu_us_per_verify: joseCpu,
    });
  } finally {
    await jwks?.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

execFileSync(process.execPath, [join(root, '..', '..', 'scripts', 'build-if-missing.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
for (const mode of MODES) await runVerify(mode);
for (let round = 1; round <= ROUNDS; round++) {
  const order = MODES.map((_, i) => MODES[(i + round - 1) % MODES.length]!);
  for (const mode of order) await runStorm(mode, round);
}
for (const field of ['upgrade_p50_ms', 'upgrade_p99_ms', 'storm_ms', 'server_cpu_ms_per_upgrade']) {
  for (const mode of MODES) {
    const all = results.filter((l) => l['metric'] === 'reconnect_storm' && l['mode'] === mode).map((l) => l[field] as number);
    print({ bench: 'auth', metric: 'median', name: `reconnect_storm_${field}`, mode, median: median(all), min: Math.min(...all), max: Math.max(...all), rounds: all.length });
  }
}
