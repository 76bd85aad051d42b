import { describe, expect, it } from 'vitest';
import { parseUpgradeUrl } from '../../src/ws/upgrade-url.js';

/** What the endpoint read before: the WHATWG URL parser. */
function reference(target: string): { pathname: string; token: string | null; ack: string | null } {
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, token: url.searchParams.get('token'), ack: url.searchParams.get('ack') };
}

function read(target: string): { pathname: string; token: string | null; ack: string | null } {
  const url = parseUpgradeUrl(target);
  return { pathname: url.pathname, token: url.param('token'), ack: url.param('ack') };
}

describe('upgrade request targets', () => {
  it('when a target is plain or not, then path and parameters read exactly as the URL parser reads them', () => {
    const targets = [
      '/sync/ada?token=eyJh.eyJz.c2ln-_x',
      '/sync/ada/notes?token=t&ack=1',
      '/sync/ada?ack&token=',
      '/sync/ada?token=1&token=2',
      '/sync/ada?&&token=z&',
      '/sync/ada?token=a=b',
      '/sync/ada/',
      '/sync/ada',
      '/',
      '/sync/ada?token=a%2Eb&ack=%31',
      '/sync/ada?token=a+b',
      '//evil.example/sync/ada?token=t',
      '/sync//ada?token=t',
      '/sync/../ada?token=t',
      '/sync/./ada?token=t',
      '/sync/%61da?token=t',
      '/sync/a da?token=t',
      '/sync/ada#x?token=t',
      '/sync/ada?token=t#ack=1',
      '/sync\\ada?token=t',
      'http://other.example/sync/ada?token=t',
    ];
    for (const target of targets) expect(read(target), target).toEqual(reference(target));
  });

  it('when targets are drawn from characters the URL parser treats specially, then every one reads as it does', () => {
    const alphabet = ['a', 'Z', '0', '_', '-', '.', '~', '/', '?', '&', '=', '%', '%2', '%41', '+', '#', ' ', '\\', 'token', 'ack', '..'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      let target = '/sync/';
      const length = 1 + next(12);
      for (let j = 0; j < length; j++) target += alphabet[next(alphabet.length)];
      expect(read(target), target).toEqual(reference(target));
    }
  });
});
