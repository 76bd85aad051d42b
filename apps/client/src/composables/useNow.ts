import { onBeforeUnmount, onMounted, shallowRef, type ShallowRef } from 'vue';

/**
 * The current time, refreshed every `periodMs` while the component is mounted: only to keep
 * "2 min ago" labels true. No data is polled.
 */
export function useNow(periodMs = 15_000): ShallowRef<number> {
  const now = shallowRef(Date.now());
  let timer: ReturnType<typeof setInterval> | undefined;
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), periodMs);
  });
  onBeforeUnmount(() => clearInterval(timer));
  return now;
}
