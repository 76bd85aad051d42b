/**
 * Learner settings kept in the learner document, so every device plans with the same ones and
 * edits made offline merge like every other field: each setting is its own last-writer-wins
 * register (Yjs: keys of the root map `settings`; Automerge: `settings/<key>` keys of `meta`).
 */
import { z } from 'zod';

/** The settings a learner can set. */
export const SETTINGS_KEYS = ['interviewDate', 'dailyMinutes'] as const;
/** A settings key. */
export type SettingsKey = (typeof SETTINGS_KEYS)[number];

/** Bounds of the daily practice time, in minutes. */
export const DAILY_MINUTES = Object.freeze({ min: 5, max: 720 });

/** A calendar date `YYYY-MM-DD` (the interview day; days are counted in UTC). */
export const calendarDateSchema = z.iso.date();

/** Stored settings: each present once it was set. */
export const learnerSettingsSchema = z.object({
  interviewDate: calendarDateSchema.optional(),
  dailyMinutes: z.number().int().min(DAILY_MINUTES.min).max(DAILY_MINUTES.max).optional(),
});
/** Learner settings. */
export type LearnerSettings = z.output<typeof learnerSettingsSchema>;

/** A change to settings; `null` clears a setting. */
export const settingsPatchSchema = z.object({
  interviewDate: calendarDateSchema.nullable().optional(),
  dailyMinutes: z.number().int().min(DAILY_MINUTES.min).max(DAILY_MINUTES.max).nullable().optional(),
});
/** A parsed settings patch. */
export type SettingsPatch = z.output<typeof settingsPatchSchema>;

/** Reads stored settings defensively (any Yjs client can write the map): wrong values are dropped. */
export function readSettings(get: (key: SettingsKey) => unknown): LearnerSettings {
  const out: { -readonly [K in keyof LearnerSettings]: LearnerSettings[K] } = {};
  const date = calendarDateSchema.safeParse(get('interviewDate'));
  if (date.success) out.interviewDate = date.data;
  const minutes = learnerSettingsSchema.shape.dailyMinutes.safeParse(get('dailyMinutes'));
  if (minutes.success && minutes.data !== undefined) out.dailyMinutes = minutes.data;
  return out;
}
