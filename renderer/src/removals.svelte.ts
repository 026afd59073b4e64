import type { Removal } from '../../contract/api.ts';
import { api } from './api.ts';

/** The last removal, for the undo toast: what it took and in words. */
interface LastRemoval {
  removal: Removal;
  what: string;
}

/**
 * Taking photos or imports out of the catalog, for every view: the last removal (offered for undo in a toast),
 * a problem to show, and a counter that the app watches to reload its views.
 */
class Removals {
  last = $state<LastRemoval | null>(null);
  problem = $state<string | null>(null);
  /** Bumped after every removal and undo: the views read the catalog again. */
  changes = $state(0);

  #done(removal: Removal, what: string): Removal {
    this.last = { removal, what };
    this.problem = null;
    this.changes++;
    return removal;
  }

  /** Removes photos by id (a grid selection, the photo in Review) in one transaction; rejects with why. */
  async removePhotos(ids: number[]): Promise<Removal> {
    const removal = await api.removePhotos(ids);
    return this.#done(removal, removal.photos === 1 ? 'Removed 1 photo' : `Removed ${removal.photos} photos`);
  }

  /** Removes an import (the photos only it brought in). */
  async removeImport(id: number, folder: string): Promise<Removal> {
    const removal = await api.removeImport(id);
    return this.#done(removal, `Removed the import of ${folder} (${removal.photos} photos)`);
  }

  /** Undoes a removal (the last one, or one the Imports list names). */
  async restore(removalId: number): Promise<void> {
    try {
      await api.restoreRemoval(removalId);
      if (this.last?.removal.id === removalId) this.last = null;
      this.problem = null;
      this.changes++;
    } catch (err) {
      this.problem = `Could not restore: ${(err as Error).message}`;
    }
  }
}

/** The app's one removal state. The grid calls `removals.removePhotos(selectedIds)` for its selection. */
export const removals = new Removals();
