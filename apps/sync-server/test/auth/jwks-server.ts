import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** One signing key of the fake identity provider. */
export interface ProviderKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  /** The public key as PEM (what an attacker would feed an HS256 "secret" with). */
  readonly spki: string;
}

export async function providerKey(kid: string, alg: ProviderKey['alg']): Promise<ProviderKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, spki: await exportSPKI(publicKey) };
}

/**
 * A JWKS endpoint on 127.0.0.1 whose key set the test changes at will (rotation) and which can
 * be stopped (provider outage) and counted (fetches).
 */
export interface JwksServer {
  readonly url: string;
  keys: ProviderKey[];
  fetches: number;
  stop(): Promise<void>;
}

export async function startJwksServer(keys: ProviderKey[]): Promise<JwksServer> {
  const state = { keys, fetches: 0 };
  const http: Server = createServer((req, res) => {
    state.fetches += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get keys() {
      return state.keys;
    },
    set keys(next) {
      state.keys = next;
    },
    get fetches() {
      return state.fetches;
    },
    set fetches(n) {
      state.fetches = n;
    },
    async stop() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export const ISSUER = 'https://idp.example/';
export const AUDIENCE = 'prepmate-sync';

/** A token as the provider would issue it: iss, aud, iat, exp 10 minutes out, unless `claims` overrides them. */
export async function providerToken(key: ProviderKey, claims: JWTPayload, header: { kid?: string | null } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(kid === null ? {} : { kid }) })
    .sign(key.privateKey);
}
