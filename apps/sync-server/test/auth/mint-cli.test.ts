import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defaultClaimPolicy } from '../../src/auth/claims.js';
import { createTokenService } from '../../src/auth/tokens.js';
import { serverRoot, tsxLoader } from '../helpers/process.js';

const SECRET = 'mint-cli-test-secret-of-32-characters-or-more';

function mint(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--conditions=@prepmate/source', '--import', tsxLoader, `${serverRoot}/src/auth/mint-cli.ts`, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
    cwd: serverRoot,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run mint-token', () => {
  it('when a service token is minted, then the server accepts it as a service with the configured issuer, for --ttl seconds', async () => {
    const env = { AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_ISSUER: 'https://ops.example/', JWT_MAX_LIFETIME_SECONDS: '3600' };
    const { status, stdout } = mint(['--user', 'scraper', '--service', '--ttl', '600'], env);
    expect(status).toBe(0);
    const token = stdout.trim();
    const tokens = createTokenService(SECRET, { policy: { ...defaultClaimPolicy, issuer: 'https://ops.example/', maxLifetimeSeconds: 3600 } });
    const principal = await tokens.verify(token);
    expect(principal).toMatchObject({ userId: 'scraper', role: 'service' });
    expect(principal.expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    expect(principal.expiresAt - Date.now()).toBeGreaterThan(500_000);
  });

  it('when --ttl exceeds JWT_MAX_LIFETIME_SECONDS or JWT_SECRET is too short, then nothing is minted and the secret is not printed', () => {
    const long = mint(['--user', 'scraper', '--ttl', '7200'], { AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_MAX_LIFETIME_SECONDS: '3600' });
    expect(long.status).toBe(2);
    expect(long.stdout).toBe('');
    expect(long.stderr).toMatch(/--ttl: accepts .* 3600 \(JWT_MAX_LIFETIME_SECONDS\)/);
    const weak = mint(['--user', 'scraper'], { AUTH_MODE: 'jwt', JWT_SECRET: 'hunter2-short' });
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/JWT_SECRET/);
    expect(weak.stderr).not.toContain('hunter2');
  });
});
