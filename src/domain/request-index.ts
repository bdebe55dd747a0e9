/**
 * Where each request id of a stream of ledger entries was first seen, in about 20 bytes per id instead of the
 * entry itself: a 32-bit hash of the id and the entry's location (the byte offset of its line, and its ordinal
 * among that line's entries). The hash only narrows the search; the caller confirms a candidate by reading the
 * entry back, so answers are exact. An id may also have later entries, kept the same way: the caller's document
 * of the request is then the merge of all of them.
 */

export interface EntryLocation {
  readonly offset: number;
  readonly ordinal: number;
}

const NONE: readonly number[] = Object.freeze([]);
const MAX_LOAD = 0.75;

/** FNV-1a over UTF-16 code units, then a final avalanche so that the low bits index the table well. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class RequestIndex {
  /** Open addressing, linear probing: pairs of (hash, entry number + 1); 0 marks a free slot. */
  private slots = new Uint32Array(2 * 1024);
  private offsets = new Float64Array(1024);
  private ordinals = new Uint32Array(1024);
  /** 1 for a later entry of an id (`addLaterOf`), 0 for its first. */
  private later = new Uint8Array(1024);
  private count = 0;
  private ids = 0;

  /** Ids indexed (their first entries). */
  get size(): number {
    return this.ids;
  }

  /** Entry numbers of earlier ids with the same hash as `id`: usually none, or the id's own entries. */
  candidates(id: string): readonly number[] {
    return this.candidatesOf(hashId(id));
  }

  /** `candidates` of an id by its `hashId`. */
  candidatesOf(hash: number): readonly number[] {
    const mask = this.slots.length / 2 - 1;
    let found: number[] | null = null;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[2 * slot + 1]!;
      if (entry === 0) return found ?? NONE;
      if (this.slots[2 * slot] === hash) (found ??= []).push(entry - 1);
    }
  }

  location(entry: number): EntryLocation {
    return { offset: this.offsets[entry]!, ordinal: this.ordinals[entry]! };
  }

  /** Whether the entry read at `location` is the first one of `id` (the first location this index holds for it). */
  isFirst(id: string, location: EntryLocation): boolean {
    return this.candidates(id).some((entry) => this.later[entry] === 0 && this.offsets[entry] === location.offset && this.ordinals[entry] === location.ordinal);
  }

  /** Locations of the entries, first and later, of the ids whose `hashId` is one of `hashes` (a hash's ids in no particular order). */
  locationsOf(hashes: ReadonlySet<number>): EntryLocation[] {
    const out: EntryLocation[] = [];
    for (const hash of hashes) for (const entry of this.candidatesOf(hash)) out.push(this.location(entry));
    return out;
  }

  /** Records the first entry of an id the caller has confirmed is new. */
  add(id: string, location: EntryLocation): void {
    this.addOf(hashId(id), location);
  }

  /** `add` of an id by its `hashId`. */
  addOf(hash: number, location: EntryLocation): void {
    this.ids++;
    this.append(hash, location, 0);
  }

  /** Records a later entry of an id already added (by its `hashId`), to be read back with the first. */
  addLaterOf(hash: number, location: EntryLocation): void {
    this.append(hash, location, 1);
  }

  private append(hash: number, location: EntryLocation, later: 0 | 1): void {
    if (this.count === this.offsets.length) {
      this.offsets = grown(this.offsets, new Float64Array(this.offsets.length * 2));
      this.ordinals = grown(this.ordinals, new Uint32Array(this.ordinals.length * 2));
      this.later = grown(this.later, new Uint8Array(this.later.length * 2));
    }
    this.offsets[this.count] = location.offset;
    this.ordinals[this.count] = location.ordinal;
    this.later[this.count] = later;
    this.count++;
    if (this.count > (this.slots.length / 2) * MAX_LOAD) this.rehash(this.slots.length * 2);
    this.place(hash, this.count);
  }

  private place(hash: number, entryPlusOne: number): void {
    const mask = this.slots.length / 2 - 1;
    let slot = hash & mask;
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = entryPlusOne;
  }

  private rehash(length: number): void {
    const old = this.slots;
    this.slots = new Uint32Array(length);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }
}

function grown<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
