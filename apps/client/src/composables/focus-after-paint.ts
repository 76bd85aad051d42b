/**
 * Moves focus to `target()` once the screen has been painted, in a task of its own. Focusing in
 * the task that changed the screen forces its layout inside that task, which made opening a
 * screen or saving a session one long task (over 50 ms on a slow machine). Focus the learner (or
 * the page) placed meanwhile stays where it is.
 */
export function focusAfterPaint(target: () => HTMLElement | null | undefined): void {
  const before = document.activeElement;
  requestAnimationFrame(() =>
    setTimeout(() => {
      if (document.activeElement !== before && document.activeElement !== document.body) return;
      target()?.focus();
    }, 0),
  );
}
