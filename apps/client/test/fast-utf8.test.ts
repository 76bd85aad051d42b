// @vitest-environment node
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';
import { isLib0Decoding, lib0FastStrings, patchLib0Decoding } from '../build-plugins/lib0-fast-strings';
import { SHORT_STRING_BYTES, createUtf8Reader, type Utf8Reader } from '../src/fast-utf8';

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

function ours(read: Utf8Reader, bytes: Uint8Array): string | Error {
  // Padding on both sides: the reader must use exactly its own bytes.
  const cursor = { arr: Uint8Array.from([7, 7, ...bytes, 9]), pos: 2 };
  try {
    const s = read(cursor, bytes.length);
    expect(cursor.pos).toBe(2 + bytes.length);
    return s;
  } catch (error) {
    return error as Error;
  }
}

describe('createUtf8Reader (the string reader of the app bundle)', () => {
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
    // Read twice by one reader: the second time answers from what it remembers.
    const read = createUtf8Reader(utf8);
    for (const bytes of [...samples, ...samples]) {
      const expected = reference(bytes);
      const actual = ours(read, bytes);
      if (expected instanceof Error) expect(actual, `bytes ${[...bytes].join(',')}`).toBeInstanceOf(TypeError);
      else expect(actual).toBe(expected);
    }
  });

  it('when many different short strings share its slots, then every repeat still reads as its own bytes', () => {
    // 40 000 ids and dates in 4 096 slots: most slots are overwritten, many hashes collide, and
    // strings of one length that differ in a single byte follow each other.
    const read = createUtf8Reader(utf8);
    const values: string[] = [];
    for (let i = 0; i < 20_000; i++) values.push(`asm_${i.toString(36).padStart(6, '0')}`, new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString());
    for (const round of [0, 1]) {
      for (const value of round === 0 ? values : [...values].reverse()) expect(ours(read, encode(value))).toBe(value);
    }
  });

  it('when fewer bytes are left than the length says, then it throws and reads nothing', () => {
    const cursor = { arr: encode('abc'), pos: 1 };
    expect(() => createUtf8Reader(utf8)(cursor, 3)).toThrow(RangeError);
    expect(cursor.pos).toBe(1);
  });
});

describe('the lib0 build step', () => {
  it('when given the installed lib0 decoding module, then its string reader is replaced (and a changed lib0 fails the build)', () => {
    const path = join(import.meta.dirname, '../../../node_modules/lib0/decoding.js');
    expect(isLib0Decoding(path)).toBe(true);
    const patched = patchLib0Decoding(readFileSync(path, 'utf8'), '/reader.ts');
    expect(patched).toContain('import { createUtf8Reader as __createUtf8Reader } from "/reader.ts"');
    expect(patched).toContain('__createUtf8Reader(string.utf8TextDecoder)');
    expect(patched).toContain('_readVarStringNative = decoder => __readUtf8(decoder, readVarUint(decoder))');
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
      expect(bundle).toContain('createUtf8Reader');
      const mod = (await import(pathToFileURL(join(dir, 'entry.js')).href)) as { roundTrip: (values: string[]) => string[] };
      const values = ['', 'topicId', 'Noté — 図', 'z'.repeat(500), '2025-12-31T23:59:59.999Z', 'topicId', 'score', 'topicId'];
      expect(mod.roundTrip(values)).toEqual(values);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
