/** Request bodies shared by the API tests. */
export const iso = (ms = Date.now()): string => new Date(ms).toISOString();

export function eventItem(eventId: string, overrides: Record<string, unknown> = {}) {
  return {
    itemType: 'event' as const,
    itemData: {
      eventId,
      eventType: 'interview_completed',
      eventData: { interviewId: eventId, score: 80 },
      metadata: { clientTimestamp: iso(), userAgent: 'vitest' },
      ...overrides,
    },
  };
}

export function assessmentItem(assessmentId: string, overrides: Record<string, unknown> = {}) {
  return {
    itemType: 'assessment' as const,
    itemData: {
      assessmentId,
      topicId: 'arrays',
      kind: 'quiz',
      score: 55,
      questionsAttempted: 10,
      correctAnswers: 5,
      weakAreas: ['two-pointers'],
      completedAt: iso(),
      ...overrides,
    },
  };
}

export function progressItem(topicId: string, overrides: Record<string, unknown> = {}) {
  return { itemType: 'progress' as const, itemData: { topicId, status: 'in_progress', goal: 'finish', updatedAt: iso(), ...overrides } };
}

export function trackBody(eventId?: string, overrides: Record<string, unknown> = {}) {
  return {
    eventType: 'interview_started',
    eventData: { interviewType: 'mock', duration: 30 },
    metadata: { clientTimestamp: iso(), ...(eventId ? { eventId } : {}) },
    ...overrides,
  };
}

let counter = 0;
/** Unique ids per test run, so suites sharing a store never collide. */
export const uid = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
