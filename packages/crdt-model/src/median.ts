/**
 * The lower median of the first `n` values of `values` (the element a sort would put at
 * `(n - 1) >> 1`), found by Hoare's selection in linear expected time instead of a sort; the
 * values are reordered in place. `n` must be at least 1 and the values must not be NaN.
 */
export function lowerMedianInPlace(values: Float64Array, n: number): number {
  const k = (n - 1) >> 1;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k]!;
  }
  return values[k]!;
}
