/**
 * AI coaching: asks an OpenAI-compatible chat-completions endpoint (llama.cpp, vLLM, Ollama,
 * hosted services, Gemini's compatible endpoint) for a short note on a learner's aggregated plan,
 * through the official `openai` client. Optional and never in the way: with no endpoint
 * configured there is no coach; a slow, failing or nonsensical model yields no note, and the
 * plan's rule-based reasons stand alone.
 */
import { MAX_COACHING_NOTE_LENGTH } from '@prepmate/crdt-model';
import OpenAI from 'openai';
import type { RateLimiter } from '../cache/ports.js';
import type { Config } from '../config.js';
import type { CoachingSummary } from './summary.js';

/** Gemini's OpenAI-compatible endpoint. */
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta/openai/';
const GEMINI_DEFAULT_MODEL = 'gemini-2.5-flash';
/** Notes kept per instance, keyed by plan content (oldest dropped first). */
const CACHE_ENTRIES = 1000;
const HOUR_MS = 3_600_000;

export type CoachConfig = Pick<Config, 'MODEL_API_BASE_URL' | 'MODEL_API_KEY' | 'GEMINI_API_KEY' | 'MODEL_NAME' | 'MODEL_TIMEOUT_MS' | 'MODEL_NOTES_PER_HOUR'>;

/** What one request for a note came to. */
export type CoachOutcome =
  | { readonly status: 'written' | 'cached'; readonly text: string; readonly model: string }
  | { readonly status: 'limited' }
  | { readonly status: 'failed'; readonly reason: 'timeout' | 'rate_limited' | 'server_error' | 'unreachable' | 'malformed' | 'rejected' };

export interface Coach {
  readonly model: string;
  /** A note for the summary (`key` = its content hash): from the cache, or asked of the model. */
  note(userId: string, key: string, summary: CoachingSummary): Promise<CoachOutcome>;
}

export interface CoachDeps {
  readonly config: CoachConfig;
  /** Per-learner limit of model calls (shared across instances with Redis). */
  readonly limiter: RateLimiter;
}

const SYSTEM_PROMPT = [
  'You are a concise, encouraging coach for someone preparing for job interviews.',
  'You get their practice plan as JSON: topics and weak areas with last score, recall estimate',
  '(percent chance they still remember it), mastery, due date and minutes planned today.',
  'Write 2 or 3 short sentences in plain text (no lists, no markdown) saying what to practise',
  'today and why, using only the data given.',
].join(' ');

/** The endpoint the configuration selects, or `null` when coaching is off. */
export function coachEndpoint(config: CoachConfig): { baseURL: string; apiKey: string; model: string } | null {
  if (config.MODEL_API_BASE_URL) {
    // Local model servers take any key; the client insists on one.
    return { baseURL: config.MODEL_API_BASE_URL, apiKey: config.MODEL_API_KEY ?? 'none', model: config.MODEL_NAME ?? 'default' };
  }
  if (config.GEMINI_API_KEY) return { baseURL: GEMINI_BASE_URL, apiKey: config.GEMINI_API_KEY, model: config.MODEL_NAME ?? GEMINI_DEFAULT_MODEL };
  return null;
}

/** The coach, or `null` when no endpoint is configured. */
export function createCoach(deps: CoachDeps): Coach | null {
  const endpoint = coachEndpoint(deps.config);
  if (!endpoint) return null;
  const client = new OpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey, timeout: deps.config.MODEL_TIMEOUT_MS, maxRetries: 0 });
  const cache = new Map<string, string>();

  return {
    model: endpoint.model,
    async note(userId, key, summary) {
      const cached = cache.get(key);
      if (cached !== undefined) return { status: 'cached', text: cached, model: endpoint.model };
      const perHour = deps.config.MODEL_NOTES_PER_HOUR;
      if (perHour === 0 || !(await deps.limiter.hit(`coach:${userId}`, perHour, HOUR_MS)).allowed) return { status: 'limited' };
      let raw: unknown;
      try {
        const completion = await client.chat.completions.create(
          {
            model: endpoint.model,
            messages: [
              { role: 'system', content: SYSTEM_PROMPT },
              { role: 'user', content: JSON.stringify(summary) },
            ],
            max_tokens: 200,
            temperature: 0.3,
          },
          { timeout: deps.config.MODEL_TIMEOUT_MS },
        );
        raw = (completion as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
      } catch (error) {
        return { status: 'failed', reason: failureOf(error) };
      }
      const text = cleanNote(raw);
      if (text === null) return { status: 'failed', reason: 'malformed' };
      if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(key, text);
      return { status: 'written', text, model: endpoint.model };
    },
  };
}

function failureOf(error: unknown): 'timeout' | 'rate_limited' | 'server_error' | 'unreachable' | 'malformed' | 'rejected' {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return 'timeout';
  if (error instanceof OpenAI.APIConnectionError) return 'unreachable';
  if (error instanceof OpenAI.APIError) {
    if (error.status === 429) return 'rate_limited';
    if (error.status !== undefined && error.status >= 500) return 'server_error';
    // A 2xx body the client could not parse surfaces here without a status.
    return error.status === undefined ? 'malformed' : 'rejected';
  }
  // e.g. a non-JSON body: the client throws a plain error while parsing.
  return 'malformed';
}

/** A note worth showing: non-empty text, whitespace collapsed, cut at a sentence within the limit. */
export function cleanNote(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const text = raw.replace(/\s+/g, ' ').trim();
  if (text.length < 2) return null;
  if (text.length <= MAX_COACHING_NOTE_LENGTH) return text;
  const cut = text.slice(0, MAX_COACHING_NOTE_LENGTH);
  const end = cut.lastIndexOf('. ');
  return end > 0 ? cut.slice(0, end + 1) : `${cut.slice(0, MAX_COACHING_NOTE_LENGTH - 1)}…`;
}
