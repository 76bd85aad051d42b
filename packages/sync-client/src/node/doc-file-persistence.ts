import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import type { DocPersistence, DocPersistenceFactory } from '../doc/persistence.js';
import type { FsyncPolicy } from './file-storage.js';

export interface FileDocPersistenceOptions {
  /** Directory of the journals, one file per document: `<dir>/doc-<docName>.ylog`. */
  readonly dir: string;
  /** Default `always` (see {@link FsyncPolicy}). */
  readonly fsync?: FsyncPolicy;
  /** Rewrite the journal as one update when it exceeds this size… Default 1 MiB. */
  readonly compactMinBytes?: number;
}

/**
 * The Node counterpart of y-indexeddb: an append-only journal of Yjs updates, each written as a
 * lib0 `varUint8Array` (length-prefixed), replayed on load. A torn last record is dropped. When
 * the journal grows past `compactMinBytes` and is more than twice the encoded document, it is
 * replaced by a single update (written to a temp file, fsynced, renamed).
 */
export function fileDocPersistence(options: FileDocPersistenceOptions): DocPersistenceFactory {
  return (docName, doc, report) => {
    const path = join(options.dir, `doc-${encodeURIComponent(docName)}.ylog`);
    const fsync = options.fsync ?? 'always';
    const compactMinBytes = options.compactMinBytes ?? 1024 * 1024;
    let handle: FileHandle | null = null;
    let size = 0;
    let chain: Promise<unknown> = Promise.resolve();
    let destroyed = false;
    const self: { origin: object } = { origin: { kind: 'persistence' } };

    const write = (update: Uint8Array): void => {
      const enc = encoding.createEncoder();
      encoding.writeVarUint8Array(enc, update);
      const bytes = encoding.toUint8Array(enc);
      chain = chain.then(async () => {
        if (!handle || destroyed) return;
        await handle.write(bytes, 0, bytes.length);
        if (fsync === 'always') await handle.datasync();
        size += bytes.length;
        if (size > compactMinBytes) {
          const snapshot = Y.encodeStateAsUpdate(doc);
          if (size > 2 * snapshot.length) await compact(snapshot);
        }
      }).catch((err: unknown) => {
        // The update is still in memory and on the server once synced; the journal missed it.
        report(`document journal write failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    };

    async function compact(snapshot: Uint8Array): Promise<void> {
      const enc = encoding.createEncoder();
      encoding.writeVarUint8Array(enc, snapshot);
      const bytes = encoding.toUint8Array(enc);
      const tmp = `${path}.tmp`;
      const out = await open(tmp, 'w');
      await out.write(bytes, 0, bytes.length);
      await out.sync();
      await out.close();
      await handle?.close();
      await rename(tmp, path);
      handle = await open(path, 'a');
      size = bytes.length;
    }

    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== self.origin) write(update);
    };

    const whenLoaded = (async () => {
      await mkdir(options.dir, { recursive: true });
      let buf: Uint8Array = new Uint8Array(0);
      try {
        buf = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const updates: Uint8Array[] = [];
      const decoder = decoding.createDecoder(buf);
      let good = 0;
      while (decoding.hasContent(decoder)) {
        try {
          updates.push(decoding.readVarUint8Array(decoder));
          good = decoder.pos;
        } catch {
          break; // torn tail
        }
      }
      Y.transact(doc, () => {
        for (const u of updates) Y.applyUpdate(doc, u);
      }, self.origin);
      handle = await open(path, 'a');
      await handle.truncate(good);
      size = good;
      doc.on('update', onUpdate);
      // Whatever the document already had before loading (edits made before `ready`) is saved too.
      write(Y.encodeStateAsUpdate(doc));
    })();

    const persistence: DocPersistence = {
      origin: self.origin,
      whenLoaded,
      updateListeners: [onUpdate],
      async destroy() {
        doc.off('update', onUpdate);
        await whenLoaded.catch(() => undefined);
        await chain;
        destroyed = true;
        await handle?.close();
        handle = null;
      },
    };
    return persistence;
  };
}
