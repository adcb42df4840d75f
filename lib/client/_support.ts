/**
 * Small pieces of the client: a first-in first-out queue (replies in waiting, pieces in
 * flight) and promises marked as handled.
 *
 * @module
 */

/** A first-in first-out queue with O(1) shift. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items are queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queue an item at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The item at the front, left in place. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Take the item at the front. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Take every item, front first. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/** Mark a promise as handled (its rejection is still seen by whoever awaits it). */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
