/**
 * The AI coaching note: a short text a language model wrote about the learner's practice plan.
 * The server stores it under the learner's `insights` (key {@link COACHING_INSIGHT_KEY}), so it
 * replicates to every device and shows offline; it is optional, and screens fall back to the
 * plan's rule-based reasons when it is absent or belongs to an older plan.
 */
import { z } from 'zod';

/** The `insights` key of the coaching note. */
export const COACHING_INSIGHT_KEY = 'coachingNote';

/** Longest note kept, in characters (models are asked for far less). */
export const MAX_COACHING_NOTE_LENGTH = 1200;

/** The stored note. */
export const coachingNoteSchema = z.object({
  text: z.string().min(1).max(MAX_COACHING_NOTE_LENGTH),
  /** Hash of the plan summary the note was written for (what the server's cache is keyed by). */
  planKey: z.string().min(1).max(128),
  /** The UTC day of that plan, `YYYY-MM-DD`. */
  planDay: z.iso.date(),
  model: z.string().max(200),
  createdAt: z.iso.datetime({ offset: true }),
});
/** A coaching note as stored. */
export type CoachingNote = z.output<typeof coachingNoteSchema>;

/** Reads the note from stored insights defensively (any Yjs client can write there). */
export function readCoachingNote(insights: Readonly<Record<string, unknown>>): CoachingNote | null {
  const parsed = coachingNoteSchema.safeParse(insights[COACHING_INSIGHT_KEY]);
  return parsed.success ? parsed.data : null;
}
