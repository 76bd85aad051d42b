/**
 * The one job scheduler. Jobs are use cases of their domain (snapshots in docs/, the sync queue,
 * insights and event retention in telemetry/, audit retention in audit/); this module only runs
 * them on time, never two runs of one job at once in this process, and — for jobs with a lease —
 * only on one instance at a time across instances sharing a store. Every job is registered by
 * the composition root (`server.ts`) and reported by `GET /api/health`.
 */
import schedule from 'node-schedule';
import type { Logger } from '../logger.js';
import type { LeaseStore } from '../storage/ports.js';

/** When a job runs: a cron rule (node-schedule, optional seconds field), or every `everyMs` after the previous run ended. */
export type JobTiming = { readonly cron: string } | { readonly everyMs: number };

export interface JobDefinition {
  /** Unique name; the lease key is `job:<name>`. */
  readonly name: string;
  readonly timing: JobTiming;
  /**
   * Lifetime of the cross-instance lease held while the job runs, ms (longer than a run can
   * take; if the process dies the lease expires and another instance takes over). `null`: no
   * job-wide lease (the job takes finer leases itself, e.g. one per document).
   */
  readonly leaseMs: number | null;
  /** False: registered and reported, never run by the schedule (`ENABLE_SCHEDULED_SYNC=false`). */
  readonly enabled: boolean;
  readonly run: () => Promise<void>;
}

export type JobState = 'idle' | 'running' | 'disabled' | 'stopped';

/** One job as `/api/health` reports it. */
export interface JobReport {
  readonly name: string;
  /** The cron rule, or `every <n> ms`. */
  readonly schedule: string;
  readonly state: JobState;
  /** End of the last run on this instance (ISO 8601), null before the first. */
  readonly lastRunAt: string | null;
  /** The last run's error message, null when it succeeded (or never ran). */
  readonly lastError: string | null;
}

export type SchedulerState = 'running' | 'stopped' | 'disabled';

export interface Scheduler {
  register(job: JobDefinition): void;
  /** Starts the timers of every enabled job. Without it jobs only run through {@link runNow} (tests). */
  start(): void;
  /**
   * Runs `name` now, under its lease; joins a run in progress. Resolves false when another
   * instance holds the lease (nothing ran). Rejects with the job's own error.
   */
  runNow(name: string): Promise<boolean>;
  /** Cancels every timer and waits for runs in progress. */
  stop(): Promise<void>;
  /** `running` after {@link start}, `stopped` after {@link stop}, `disabled` when no job is enabled or the timers were never started. */
  state(): SchedulerState;
  jobs(): JobReport[];
}

export interface SchedulerDeps {
  readonly leases: LeaseStore;
  /** Lease owner: unique per process. */
  readonly instanceId: string;
  readonly logger: Logger;
  /** Told how long each run took and whether it failed (runs that lost the lease are not runs). */
  readonly observeRun?: (job: string, outcome: 'ok' | 'error', seconds: number) => void;
}

interface Entry {
  readonly def: JobDefinition;
  running: Promise<boolean> | null;
  handle: schedule.Job | null;
  lastRunAt: Date | null;
  lastError: string | null;
}

const describe = (timing: JobTiming): string => ('cron' in timing ? timing.cron : `every ${timing.everyMs} ms`);

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { leases, instanceId, logger } = deps;
  const entries = new Map<string, Entry>();
  let started = false;
  let stopped = false;

  async function runLeased(entry: Entry): Promise<boolean> {
    const { def } = entry;
    const key = `job:${def.name}`;
    if (def.leaseMs !== null && !(await leases.tryAcquire(key, instanceId, def.leaseMs))) return false;
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      await def.run();
      entry.lastError = null;
      deps.observeRun?.(def.name, 'ok', seconds());
      return true;
    } catch (error) {
      entry.lastError = error instanceof Error ? error.message : String(error);
      deps.observeRun?.(def.name, 'error', seconds());
      throw error;
    } finally {
      entry.lastRunAt = new Date();
      // Expiry frees the lease anyway; a failed release must not hide the job's own error.
      if (def.leaseMs !== null) await leases.release(key, instanceId).catch(() => undefined);
    }
  }

  function runOnce(entry: Entry): Promise<boolean> {
    entry.running ??= runLeased(entry).finally(() => {
      entry.running = null;
    });
    return entry.running;
  }

  /** A tick while the previous run is still going is skipped, not queued. */
  function tick(entry: Entry): Promise<void> {
    if (entry.running || stopped) return Promise.resolve();
    return runOnce(entry).then(
      () => undefined,
      (error: unknown) => logger.warn({ job: entry.def.name, err: error }, 'scheduled job failed; the next run retries'),
    );
  }

  function arm(entry: Entry): void {
    const { timing, name } = entry.def;
    if ('cron' in timing) {
      // node-schedule keeps jobs in a process-wide registry keyed by name: the instance id keeps
      // two servers in one process (tests) apart.
      entry.handle = schedule.scheduleJob(`${name}:${instanceId}`, timing.cron, () => void tick(entry));
      return;
    }
    // One-shot jobs chained after each run: works for any interval (a cron step would not for
    // 90 minutes) and never overlaps runs.
    const next = (): void => {
      if (stopped) return;
      entry.handle = schedule.scheduleJob(new Date(Date.now() + timing.everyMs), () => void tick(entry).finally(next));
    };
    next();
  }

  return {
    register(def) {
      if (entries.has(def.name)) throw new Error(`job ${def.name} is registered twice`);
      const entry: Entry = { def, running: null, handle: null, lastRunAt: null, lastError: null };
      entries.set(def.name, entry);
      if (started && !stopped && def.enabled) arm(entry);
    },
    start() {
      if (started || stopped) return;
      started = true;
      for (const entry of entries.values()) if (entry.def.enabled) arm(entry);
    },
    runNow(name) {
      const entry = entries.get(name);
      if (!entry) return Promise.reject(new Error(`no job named ${name}`));
      return runOnce(entry);
    },
    async stop() {
      stopped = true;
      for (const entry of entries.values()) {
        entry.handle?.cancel();
        entry.handle = null;
      }
      await Promise.all([...entries.values()].map((e) => e.running?.catch(() => undefined)));
    },
    state() {
      if (stopped) return 'stopped';
      return started && [...entries.values()].some((e) => e.def.enabled) ? 'running' : 'disabled';
    },
    jobs() {
      return [...entries.values()].map((e) => ({
        name: e.def.name,
        schedule: describe(e.def.timing),
        state: stopped ? 'stopped' : e.running ? 'running' : e.def.enabled && started ? 'idle' : 'disabled',
        lastRunAt: e.lastRunAt?.toISOString() ?? null,
        lastError: e.lastError,
      }));
    },
  };
}

/** Cron (with seconds) for "every n seconds", n clamped to 5–59. */
export function everySeconds(n: number): string {
  return `*/${Math.min(59, Math.max(5, Math.round(n)))} * * * * *`;
}

/** Cron for "every n minutes": `*\/n` below an hour, whole hours above. */
export function everyMinutes(n: number): string {
  if (n < 60) return `*/${n} * * * *`;
  return `0 */${Math.min(23, Math.max(1, Math.round(n / 60)))} * * *`;
}
