/**
 * The shared clock of a run of requests that are all in one state at every decision (a binding
 * bucket, a waiting cause), so a decision costs the run one segment instead of a switch per
 * member. Segment s is state segState[s] from decision time segT[s] on; hist[s * width + k] is
 * the time spent in state k from the run's start to segT[s]. A member that joined in segment j
 * at time t gets its spans added when it leaves (addSpans). Times are integer ns and the sums
 * stay below 2^53, so they are exact in any order: the same as switching every member at every
 * decision.
 */
export class StateHistory {
  private readonly segT: number[] = [];
  private readonly segState: number[] = [];
  private readonly hist: number[] = [];
  /** the state of the open segment */
  state: number;

  constructor(private readonly width: number, initial: number) {
    this.state = initial;
  }

  /** segments since the last restart */
  get segments(): number {
    return this.segT.length;
  }

  /** Begin again (the run is empty): from D on, `state`. */
  restart(state: number, D: number): void {
    this.segT.length = 0;
    this.segState.length = 0;
    this.hist.length = 0;
    this.segT.push(D);
    this.segState.push(state);
    for (let k = 0; k < this.width; k++) this.hist.push(0);
    this.state = state;
  }

  /** From D on, `state`: a new segment when it differs from the open one. */
  change(state: number, D: number): void {
    if (state === this.state) return;
    const W = this.width, h = this.hist;
    const m = this.segT.length - 1;
    for (let k = 0; k < W; k++) h.push(h[m * W + k]);
    h[(m + 1) * W + this.state] += D - this.segT[m];
    this.segT.push(D);
    this.segState.push(state);
    this.state = state;
  }

  /** The open segment's index (a joining member's). */
  get openSegment(): number {
    return this.segT.length - 1;
  }

  /**
   * Adds to `acc` (per state) the time of a member that joined in segment `joinSeg` at `joinT`,
   * up to the start of the open segment, and returns the time its open span starts from.
   */
  addSpans(acc: Float64Array, joinSeg: number, joinT: number): number {
    const W = this.width, h = this.hist;
    const m = this.segT.length - 1;
    if (m <= joinSeg) return joinT;
    acc[this.segState[joinSeg]] += this.segT[joinSeg + 1] - joinT;
    for (let k = 0; k < W; k++) acc[k] += h[m * W + k] - h[(joinSeg + 1) * W + k];
    return this.segT[m];
  }
}
