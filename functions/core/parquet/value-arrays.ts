/**
 * The JS arrays a batch's values are gathered into (one per column), kept for the next batch.
 *
 * A fresh array of a few hundred thousand slots lives outside the young generation and is new
 * memory each time: its page faults cost more than filling it. So arrays are lent per batch and
 * given back emptied, which keeps no record of the batch alive.
 */

/** An array longer than this is dropped when given back rather than kept for the next batch. */
const MAX_RETAINED_SLOTS = 1 << 21;

export class ValueArrays {
  private readonly free: unknown[][] = [];
  private readonly lent: unknown[][] = [];

  /** An array of `n` undefined slots, valid until `giveBack`. */
  take(n: number): unknown[] {
    const a = this.takeAny();
    a.length = n;
    return a;
  }

  /**
   * An array of undefined slots, as long as it was: for a caller that sets the length once it
   * knows it. Shrinking an array and growing it back reallocates it.
   */
  takeAny(): unknown[] {
    const a = this.free.pop() ?? [];
    this.lent.push(a);
    return a;
  }

  /** Empties every array lent since the last call and keeps it for the next batch. */
  giveBack(): void {
    // Last lent is first kept, so a batch like the last takes each array back in the same role
    // (and at the same size).
    for (let k = this.lent.length - 1; k >= 0; k--) {
      const a = this.lent[k]!;
      if (a.length > MAX_RETAINED_SLOTS) continue;
      a.fill(undefined);
      this.free.push(a);
    }
    this.lent.length = 0;
  }
}
