// Which windows a row belongs to. Pure functions of the row's time (and, for
// session and stagger windows, the windows already open for its key), so the
// state they act on can be checkpointed as plain JSON.

export interface Span { start: number; end: number }

const floorTo = (t: number, size: number) => Math.floor(t / size) * size;

/** Tumbling: [floor(t/size)*size, +size), aligned to the epoch as STEP and TUMBLE are; the start. */
export const tumbleStart = (t: number, sizeMs: number): number => floorTo(t, sizeMs);

/** Hopping: every window of `sizeMs` starting at a multiple of `slideMs` that holds t. */
export function hop(t: number, sizeMs: number, slideMs: number): Span[] {
  const out: Span[] = [];
  for (let start = floorTo(t, slideMs); start > t - sizeMs; start -= slideMs) out.push({ start, end: start + sizeMs });
  return out.reverse();
}

/** Cumulating: windows [floor(t/max)*max, +k*step) for every k with end > t. */
export function cumulate(t: number, maxMs: number, stepMs: number): Span[] {
  const start = floorTo(t, maxMs);
  const out: Span[] = [];
  for (let end = floorTo(t, stepMs) + stepMs; end <= start + maxMs; end += stepMs) out.push({ start, end });
  return out;
}
