import { ownedText } from './owned-text.js';

/**
 * One copy of each text that repeats from record to record (an account's resource id, an operation, a model name),
 * for records kept by the hundred thousand: the analysis holds every `RequestResponse` record it joins against, and
 * each text JSON.parse reads is a string of its own. At most `capacity` texts are pooled; a full pool starts again,
 * so that texts of many values (caller ids) cost a lookup and no more.
 */
export class TextPool {
  private readonly texts = new Map<string, string>();

  constructor(private readonly capacity = 4_096) {}

  shared(text: string): string;
  shared(text: string | null): string | null;
  shared(text: string | null): string | null {
    if (text === null) return null;
    let pooled = this.texts.get(text);
    if (pooled === undefined) {
      if (this.texts.size >= this.capacity) this.texts.clear();
      pooled = ownedText(text);
      this.texts.set(pooled, pooled);
    }
    return pooled;
  }
}
