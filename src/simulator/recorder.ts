import type { ReceivedRequest } from './types.js';

/**
 * Fixed-capacity ring buffer: appending is O(1) even when full, unlike
 * Array#shift, so recording stays cheap under load.
 */
export class Recorder {
  private readonly slots: (ReceivedRequest | undefined)[];
  private start = 0;
  private size = 0;
  private nextSeq = 1;

  constructor(private readonly capacity: number) {
    this.slots = new Array<ReceivedRequest | undefined>(capacity);
  }

  /** Returns the live entry so the exchange can flip completed/aborted later. */
  add(entry: Omit<ReceivedRequest, 'seq'>): ReceivedRequest {
    const record: ReceivedRequest = { seq: this.nextSeq++, ...entry };
    if (this.capacity === 0) return record;
    if (this.size < this.capacity) {
      this.slots[(this.start + this.size) % this.capacity] = record;
      this.size++;
    } else {
      this.slots[this.start] = record;
      this.start = (this.start + 1) % this.capacity;
    }
    return record;
  }

  snapshot(): ReceivedRequest[] {
    const out: ReceivedRequest[] = [];
    for (let i = 0; i < this.size; i++) {
      const record = this.slots[(this.start + i) % this.capacity];
      if (record !== undefined) out.push({ ...record });
    }
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.start = 0;
    this.size = 0;
  }
}
