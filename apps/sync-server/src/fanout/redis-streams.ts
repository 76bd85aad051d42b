/**
 * Fan-out between instances through one Redis Stream (pub/sub may drop messages; a stream lets a
 * reader continue from the last id it saw). Every instance appends with `XADD MAXLEN ~` and reads
 * everything with `XREAD BLOCK` on a dedicated connection, ignoring its own entries and documents
 * it has not loaded. One stream (not one per document) keeps the blocking read's key set fixed.
 *
 * Entry fields: `i` instanceId, `k` kind (`u` update, `a` awareness, `q` sync request, `x` erase),
 * `d` docName, `a` author (updates), `p` payload bytes.
 *
 * After a read error (Redis restarted, network) entries may have been missed, so the handler's
 * `onGap` re-reads loaded documents from the store. A reader slower than `MAXLEN` entries would
 * also miss some; the default leaves minutes of headroom at any realistic rate.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Fanout, FanoutHandler, FanoutMessage } from './ports.js';

export interface RedisFanoutOptions {
  readonly url: string;
  /** Unique per process; entries with this id are this instance's own. */
  readonly instanceId: string;
  /** Stream key; every instance of one deployment must use the same. Default `prepmate:sync`. */
  readonly streamKey?: string;
  /** Approximate stream length kept (`MAXLEN ~`). Default 100 000. */
  readonly maxLen?: number;
  /** `XREAD BLOCK` timeout, ms. Default 5 000. */
  readonly blockMs?: number;
  readonly logger: Logger;
}

const KIND_CODE = { update: 'u', awareness: 'a', 'sync-request': 'q', erase: 'x' } as const;
const EMPTY = new Uint8Array(0);

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function decodeEntry(fields: readonly Buffer[]): { instanceId: string; message: FanoutMessage } | null {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
  const instanceId = map.get('i')?.toString();
  const kind = map.get('k')?.toString();
  const docName = map.get('d')?.toString();
  if (!instanceId || !kind || !docName) return null;
  const payload = map.get('p') ?? EMPTY;
  switch (kind) {
    case 'u':
      return { instanceId, message: { kind: 'update', docName, author: map.get('a')?.toString() ?? 'service:unknown', payload } };
    case 'a':
      return { instanceId, message: { kind: 'awareness', docName, payload } };
    case 'q':
      return { instanceId, message: { kind: 'sync-request', docName, payload } };
    case 'x':
      return { instanceId, message: { kind: 'erase', docName } };
    default:
      return null;
  }
}

export function createRedisFanout(options: RedisFanoutOptions): Fanout {
  const { url, instanceId, logger } = options;
  const streamKey = options.streamKey ?? 'prepmate:sync';
  const maxLen = options.maxLen ?? 100_000;
  const blockMs = options.blockMs ?? 5_000;
  // RESP2 keeps reply shapes plain arrays; auto-pipelining batches the XADDs of one turn.
  const writer = new Redis(url, { protocol: 2, enableAutoPipelining: true, maxRetriesPerRequest: 2, lazyConnect: true });
  // XREAD BLOCK occupies its connection, so the reader has its own.
  const reader = new Redis(url, { protocol: 2, maxRetriesPerRequest: null, lazyConnect: true });
  writer.on('error', (error: Error) => logger.debug({ err: error.message }, 'fanout: redis writer error'));
  reader.on('error', (error: Error) => logger.debug({ err: error.message }, 'fanout: redis reader error'));
  let running = false;
  let loop: Promise<void> | null = null;
  /** Logged once per outage, not once per message. */
  let publishFailing = false;

  async function readLoop(handler: FanoutHandler, startId: string, startsWithGap: boolean): Promise<void> {
    let lastId = startId;
    let gap = startsWithGap;
    while (running) {
      try {
        const reply = (await reader.xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', streamKey, lastId)) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
        if (gap) {
          gap = false;
          logger.info('fanout: redis stream readable again; re-reading loaded documents from the store');
          handler.onGap();
        }
        if (!reply) continue;
        for (const [, entries] of reply) {
          for (const [id, fields] of entries) {
            lastId = id.toString();
            const decoded = decodeEntry(fields);
            if (!decoded || decoded.instanceId === instanceId) continue;
            handler.onMessage(decoded.message);
          }
        }
      } catch (error) {
        if (!running) return;
        gap = true;
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fanout: reading the redis stream failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  return {
    enabled: true,
    publish(message) {
      if (!running) return;
      const args: Array<string | Buffer> = ['i', instanceId, 'k', KIND_CODE[message.kind], 'd', message.docName];
      if (message.kind === 'update') args.push('a', message.author);
      if (message.kind !== 'erase') args.push('p', asBuffer(message.payload));
      writer.xadd(streamKey, 'MAXLEN', '~', maxLen, '*', ...args).then(
        () => {
          if (publishFailing) logger.info('fanout: publishing to redis works again');
          publishFailing = false;
        },
        (error: unknown) => {
          if (!publishFailing) logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fanout: publishing to redis failed; other instances catch up from the store');
          publishFailing = true;
        },
      );
    },
    async start(handler) {
      // Redis being down must not keep the server from serving: it runs as a single instance
      // (the store is shared anyway) and catches up through onGap once Redis answers.
      let startId = '$';
      let gap = false;
      try {
        await Promise.all([writer.connect(), reader.connect()]);
        // Start after the newest entry: older ones are covered by the store's log.
        const newest = (await writer.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
        startId = newest[0]?.[0] ?? '0-0';
      } catch (error) {
        gap = true;
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fanout: redis is unreachable at start; serving alone until it answers');
      }
      running = true;
      loop = readLoop(handler, startId, gap);
    },
    async stop() {
      running = false;
      // disconnect() aborts the pending XREAD BLOCK at once...
      reader.disconnect();
      // ...unless the reader was never connected: ioredis then leaves the queued XREAD pending.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([loop, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
      loop = null;
      // quit() would wait for a connection that may never come; only a ready client says goodbye.
      if (writer.status === 'ready') await writer.quit().catch(() => writer.disconnect());
      else writer.disconnect();
    },
  };
}
