/**
 * The learner's own data: the export and the erasure of the server's REST API
 * (`GET /api/users/me/export`, `DELETE /api/users/me`), and a CSV of their practice sessions.
 */
import type { Assessment } from '@prepmate/crdt-model';
import { currentApiEndpoints } from './config/api';

/** A failure with a message meant for the learner. */
export class AccountRequestError extends Error {
  override readonly name = 'AccountRequestError';
}

export type GetToken = (options: { forceRefresh: boolean }) => Promise<string>;

/** One authenticated request; a refused token is renewed once. */
async function authorized(path: string, init: RequestInit, getToken: GetToken): Promise<Response> {
  let response: Response | null = null;
  for (const forceRefresh of [false, true]) {
    const token = await getToken({ forceRefresh });
    try {
      // The configured server (`VITE_API_URL`), which may be on another origin than the app.
      response = await fetch(`${currentApiEndpoints().apiBaseUrl}${path}`, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
    } catch {
      throw new AccountRequestError('The server cannot be reached. Check your connection and try again.');
    }
    if (response.status !== 401) break;
  }
  if (!response!.ok) throw new AccountRequestError(`The server refused the request (HTTP ${response!.status}).`);
  return response!;
}

/** Everything the server stores about the learner, as the server exports it. */
export async function fetchExport(getToken: GetToken): Promise<unknown> {
  const response = await authorized('/api/users/me/export', { headers: { Accept: 'application/json' } }, getToken);
  const body = (await response.json()) as { data?: unknown };
  return body.data ?? body;
}

/** Erases the learner on the server (documents, events, queue, logs). */
export async function eraseAccount(getToken: GetToken): Promise<void> {
  await authorized('/api/users/me', { method: 'DELETE' }, getToken);
}

/**
 * One CSV cell. Quoted when needed (RFC 4180); text a spreadsheet would run as a formula
 * (`=`, `+`, `-`, `@`, tab, CR at the start) is prefixed with `'`, since notes are free text.
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = ['completed_at', 'topic', 'kind', 'score', 'duration_minutes', 'questions_attempted', 'correct_answers', 'weak_areas', 'assessment_id'] as const;

/**
 * The practice sessions as CSV (one row each, oldest first, CRLF line ends as spreadsheets expect).
 * `topicName` gives a topic's display name: a learner reads "Базы данных", not its derived id.
 */
export function sessionsCsv(sessions: readonly Assessment[], topicName: (topicId: string) => string): string {
  const rows = sessions.map((a) =>
    [
      a.completedAt,
      topicName(a.topicId),
      a.kind ?? 'assessment',
      a.score,
      a.durationSec === undefined ? undefined : Math.round(a.durationSec / 60),
      a.questionsAttempted,
      a.correctAnswers,
      a.weakAreas?.join('; '),
      a.assessmentId,
    ]
      .map(csvCell)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}

/** Offers `content` as a file download. */
export function download(filename: string, content: string, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // The click has started the download; the URL is not needed after this task.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
