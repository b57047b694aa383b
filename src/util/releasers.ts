// Teardown as one last-in-first-out list: whatever starts pushes how to release it, and
// releaseAll() runs the releases newest first, each once. A release that fails is reported
// and the older ones still run, so one broken component cannot keep the others open.
import { toError } from '../core/errors.js';

export type Releaser = () => void | Promise<void>;

export class Releasers {
  private readonly list: Releaser[] = [];

  constructor(private readonly onError: (e: Error) => void) {}

  add(release: Releaser): void {
    this.list.push(release);
  }

  /** Runs every release added so far, newest first; a second call runs only later additions. */
  async releaseAll(): Promise<void> {
    for (const release of this.list.splice(0).reverse()) {
      try {
        await release();
      } catch (e) {
        this.onError(toError(e));
      }
    }
  }
}
