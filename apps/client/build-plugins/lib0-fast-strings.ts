/**
 * A build step for the app's bundle: lib0's string reader (`_readVarStringNative`, which every
 * string Yjs decodes goes through, object keys of stored facts included) becomes
 * a reader of src/fast-utf8.ts, which reads short ASCII strings without a `TextDecoder` call and
 * answers a repeated short string with the one it built before.
 * Same strings, same errors; only the cost changes. The build fails if lib0's reader no longer
 * looks as expected, so a lib0 upgrade cannot silently drop the change.
 *
 * Build only: the dev server pre-bundles dependencies with esbuild and keeps lib0's reader.
 */
import { join } from 'node:path';
import type { Plugin } from 'vite';

/** lib0's reader as lib0 0.2.x writes it. */
const NATIVE_READER = /export const _readVarStringNative = decoder =>\s*\/\*\* @type any \*\/ \(string\.utf8TextDecoder\)\.decode\(readVarUint8Array\(decoder\)\)/;

const READER_MODULE = join(import.meta.dirname, '../src/fast-utf8.ts');

/** True for lib0's decoding module, however it was resolved. */
export const isLib0Decoding = (id: string): boolean => /[\\/]lib0[\\/]decoding\.js$/.test(id);

/** lib0's decoding module with its string reader replaced; throws if the reader is not found. */
export function patchLib0Decoding(code: string, readerModule = READER_MODULE): string {
  if (!NATIVE_READER.test(code)) throw new Error('lib0/decoding.js: _readVarStringNative not found; review build-plugins/lib0-fast-strings.ts for this lib0 version');
  // One reader for the module, beside lib0's own shared TextDecoder: its table of remembered
  // strings lives as long as the bundle, bounded by the reader's fixed number of slots.
  const reader = 'const __readUtf8 = __createUtf8Reader(string.utf8TextDecoder);\nexport const _readVarStringNative = decoder => __readUtf8(decoder, readVarUint(decoder))';
  return `import { createUtf8Reader as __createUtf8Reader } from ${JSON.stringify(readerModule)};\n${code.replace(NATIVE_READER, reader)}`;
}

export function lib0FastStrings(): Plugin {
  return {
    name: 'prepmate:lib0-fast-strings',
    apply: 'build',
    transform(code, id) {
      if (!isLib0Decoding(id)) return null;
      return { code: patchLib0Decoding(code), map: null };
    },
  };
}
