import type { Clock } from '../src/ports.js';
import type { BatchTransport, ItemResult, SendOutcome, WireItem } from '../src/outbox/transport.js';

/** A clock whose timers run only when the test advances time. */
export interface FakeClock extends Clock {
  advance(ms: number): Promise<void>;
  pending(): number;
}

export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    pending: () => timers.size,
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await settle();
      }
      now = until;
      await settle();
    },
  };
}

/** Lets queued promise callbacks run (several rounds: storage → transport → storage). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface SentBatch {
  readonly items: readonly WireItem[];
  readonly keepalive: boolean;
}

/** A scripted transport: `respond` decides each outcome; every call is recorded. */
export function createFakeTransport(respond: (items: readonly WireItem[], call: number) => SendOutcome | Promise<SendOutcome> = ok): BatchTransport & {
  calls: SentBatch[];
  setResponder(r: typeof respond): void;
} {
  const calls: SentBatch[] = [];
  let responder = respond;
  return {
    calls,
    setResponder(r) {
      responder = r;
    },
    async send(items, opts) {
      calls.push({ items, keepalive: opts?.keepalive ?? false });
      return responder(items, calls.length);
    },
    sendNow(items) {
      calls.push({ items, keepalive: true });
      return Promise.resolve(responder(items, calls.length));
    },
  };
}

/** Every item stored. */
export function ok(items: readonly WireItem[]): SendOutcome {
  return { kind: 'results', results: items.map((_, index): ItemResult => ({ index, status: 'stored' })) };
}

/** Poll until `check` passes or the deadline; no fixed sleeps. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 20_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
