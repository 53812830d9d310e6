/**
 * Packs intervals into lanes so that intervals on one lane never overlap or touch
 * (Perfetto requires the slices of a track to nest; touching ends would rely on the
 * order of equal timestamps). Intervals arrive in the order they end (a request is
 * placed when it finishes), so each lane only needs the latest end it holds: an
 * interval fits a lane when it starts after that. First fit keeps the lanes compact.
 */
export class LanePacker {
  private readonly lastEnd: number[] = [];

  place(start: number, end: number): number {
    const lanes = this.lastEnd;
    for (let i = 0; i < lanes.length; i++) {
      if (lanes[i] < start) {
        if (end > lanes[i]) lanes[i] = end;
        return i;
      }
    }
    lanes.push(end);
    return lanes.length - 1;
  }

  get count(): number {
    return this.lastEnd.length;
  }
}
