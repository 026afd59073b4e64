/**
 * A budget of bytes held at once by work that overlaps (the photo worker's files in flight): `reserve` waits while
 * the bytes already held and these would exceed it, except that one piece of work larger than the whole budget
 * still goes ahead alone, so that no photo waits for ever.
 */
export class ByteBudget {
  private held = 0;
  private waiting: (() => void)[] = [];

  /** @param limit bytes held at once, at most (but for one larger piece alone) */
  constructor(private readonly limit: number) {}

  /** Waits until `bytes` fit beside what is held (or nothing is held), then holds them. */
  async reserve(bytes: number): Promise<void> {
    while (this.held > 0 && this.held + bytes > this.limit) await new Promise<void>((wake) => this.waiting.push(wake));
    this.held += bytes;
  }

  /** Gives back `bytes` reserved earlier; those waiting look again. */
  release(bytes: number): void {
    this.held -= bytes;
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }
}
