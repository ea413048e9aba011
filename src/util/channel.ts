/**
 * `Channel`: a single-consumer queue behind an async iterator — the producer pushes chunks and
 * closes (with an error or not); the consumer awaits them with `for await`. Breaking out of the
 * loop calls `onReturn` (the owner cancels its work there) and drops what was queued.
 */
export class Channel<T> {
  private items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private closed = false;
  private error: unknown = null;
  push(v: T): void {
    if (this.closed) return;
    if (this.waiter) { const w = this.waiter; this.waiter = null; w.resolve({ value: v, done: false }); } else this.items.push(v);
  }
  close(err: unknown = null): void {
    if (this.closed) return;
    this.closed = true;
    this.error = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      if (err) w.reject(err); else w.resolve({ value: undefined, done: true });
    }
  }
  iterator(onReturn: () => void): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.closed) return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
      },
      return: () => {
        onReturn();
        this.items = [];
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
