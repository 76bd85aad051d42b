// @vitest-environment node
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';
import { isLib0Decoding, lib0FastStrings, patchLib0Decoding } from '../build-plugins/lib0-fast-strings';
import { SHORT_STRING_BYTES, readUtf8At } from '../src/fast-utf8';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

/** What lib0 did before: the fatal decoder on the bytes, or the error it throws. */
function reference(bytes: Uint8Array): string | Error {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    return error as Error;
  }
}

function ours(bytes: Uint8Array): string | Error {
  // Padding on both sides: the reader must use exactly its own bytes.
  const cursor = { arr: Uint8Array.from([7, 7, ...bytes, 9]), pos: 2 };
  try {
    const s = readUtf8At(cursor, bytes.length, utf8);
    expect(cursor.pos).toBe(2 + bytes.length);
    return s;
  } catch (error) {
    return error as Error;
  }
}

describe('readUtf8At (the string reader of the app bundle)', () => {
  it('when bytes are ASCII, multi-byte, invalid UTF-8, empty or long, then it reads what the fatal decoder reads and refuses what it refuses', () => {
    const samples: Uint8Array[] = [
      encode(''),
      encode('topicId'),
      encode('2025-03-04T10:00:00.000Z'),
      encode('asm_00012345'),
      encode('x'.repeat(SHORT_STRING_BYTES)),
      encode('y'.repeat(SHORT_STRING_BYTES + 1)),
      encode('Noté: graphes — 図'),
      encode('😀 emoji at the end'),
      Uint8Array.from([0x61, 0xff, 0x62]), // invalid byte
      Uint8Array.from([0xc3]), // truncated sequence
      Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]), // a BOM is kept (ignoreBOM)
      Uint8Array.from([0x00, 0x7f, 0x41]),
    ];
    // Seeded random byte strings, mostly ASCII with some high bytes, for every length up to 200.
    let seed = 0x5eed;
    const next = (): number => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) >>> 16) & 0xff;
    for (let length = 0; length <= 200; length++) {
      samples.push(Uint8Array.from({ length }, () => (next() < 240 ? next() & 0x7f : next())));
    }
    for (const bytes of samples) {
      const expected = reference(bytes);
      const actual = ours(bytes);
      if (expected instanceof Error) expect(actual, `bytes ${[...bytes].join(',')}`).toBeInstanceOf(TypeError);
      else expect(actual).toBe(expected);
    }
  });

  it('when fewer bytes are left than the length says, then it throws and reads nothing', () => {
    const cursor = { arr: encode('abc'), pos: 1 };
    expect(() => readUtf8At(cursor, 3, utf8)).toThrow(RangeError);
    expect(cursor.pos).toBe(1);
  });
});

describe('the lib0 build step', () => {
  it('when given the installed lib0 decoding module, then its string reader is replaced (and a changed lib0 fails the build)', () => {
    const path = join(import.meta.dirname, '../../../node_modules/lib0/decoding.js');
    expect(isLib0Decoding(path)).toBe(true);
    const patched = patchLib0Decoding(readFileSync(path, 'utf8'), '/reader.ts');
    expect(patched).toContain('import { readUtf8At as __readUtf8At } from "/reader.ts"');
    expect(patched).toContain('__readUtf8At(decoder, readVarUint(decoder), string.utf8TextDecoder)');
    expect(patched).not.toContain('(string.utf8TextDecoder).decode(readVarUint8Array(decoder))');
    expect(() => patchLib0Decoding('export const somethingElse = 1')).toThrow(/_readVarStringNative not found/);
  });

  it('when a bundle is built with it, then Yjs-style strings written by lib0 read back the same through the patched reader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lib0-strings-'));
    try {
      await build({
        configFile: false,
        logLevel: 'silent',
        root: import.meta.dirname,
        plugins: [lib0FastStrings()],
        build: {
          outDir: dir,
          minify: false,
          lib: { entry: join(import.meta.dirname, 'fixtures/lib0-strings-entry.ts'), formats: ['es'], fileName: 'entry' },
        },
      });
      const bundle = readFileSync(join(dir, 'entry.js'), 'utf8');
      expect(bundle).toContain('readUtf8At');
      const mod = (await import(pathToFileURL(join(dir, 'entry.js')).href)) as { roundTrip: (values: string[]) => string[] };
      const values = ['', 'topicId', 'Noté — 図', 'z'.repeat(500), '2025-12-31T23:59:59.999Z'];
      expect(mod.roundTrip(values)).toEqual(values);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
