import schedule from 'node-schedule';
import type { Config } from '../config.js';
import { runInsightsJob } from '../jobs/insights.js';
import { runSyncQueueJob, type TelemetryJobDeps } from '../jobs/queue.js';
import { runRetentionJob } from '../jobs/retention.js';

export interface TelemetryScheduleDeps extends TelemetryJobDeps {
  readonly config: TelemetryJobDeps['config'] & Pick<Config, 'ENABLE_SCHEDULED_SYNC'>;
}

export interface TelemetrySchedule {
  /** Cancels every job; a run in progress finishes on its own. */
  stop(): void;
  /** For the health route: `running`, `stopped` after `stop()`, `disabled` when ENABLE_SCHEDULED_SYNC=false. */
  state(): 'running' | 'stopped' | 'disabled';
}

/** Cron (with seconds) for "every n seconds", n clamped to 5–59. */
function everySeconds(n: number): string {
  return `*/${Math.min(59, Math.max(5, Math.round(n)))} * * * * *`;
}

/** Cron for "every n minutes": `*\/n` below an hour, whole hours above. */
function everyMinutes(n: number): string {
  if (n < 60) return `*/${n} * * * *`;
  return `0 */${Math.min(23, Math.max(1, Math.round(n / 60)))} * * *`;
}

/**
 * Schedules the telemetry jobs with node-schedule:
 * - sync queue retries every `RETRY_DELAY_MS` (5–59 s): always, since acknowledged progress and
 *   assessment items depend on it to reach the document after a failed merge;
 * - insights every `SYNC_INTERVAL_MINUTES`, retention daily at 03:30 — only with
 *   ENABLE_SCHEDULED_SYNC.
 * Each job skips a tick while its previous run is still going, and takes the store lease, so
 * several instances never run the same job at once.
 */
export function scheduleTelemetryJobs(deps: TelemetryScheduleDeps): TelemetrySchedule {
  const { logger, config } = deps;
  const jobs: schedule.Job[] = [];
  let stopped = false;

  const add = (name: string, rule: string, run: () => Promise<void>): void => {
    let busy = false;
    // node-schedule keeps jobs in a registry keyed by name: the instance id keeps two servers
    // in one process (tests) apart.
    const job = schedule.scheduleJob(`${name}:${deps.instanceId}`, rule, () => {
      if (busy || stopped) return;
      busy = true;
      run()
        .catch((error: unknown) => logger.warn({ job: name, err: error }, 'scheduled job failed; next tick retries'))
        .finally(() => {
          busy = false;
        });
    });
    if (job) jobs.push(job);
  };

  add('sync-queue', everySeconds(config.RETRY_DELAY_MS / 1000), () => runSyncQueueJob(deps));
  if (config.ENABLE_SCHEDULED_SYNC) {
    add('insights', everyMinutes(config.SYNC_INTERVAL_MINUTES), () => runInsightsJob(deps));
    add('retention', '30 3 * * *', () => runRetentionJob(deps));
  }

  return {
    stop() {
      stopped = true;
      for (const job of jobs) job.cancel();
      jobs.length = 0;
    },
    state() {
      if (stopped) return 'stopped';
      return config.ENABLE_SCHEDULED_SYNC ? 'running' : 'disabled';
    },
  };
}
