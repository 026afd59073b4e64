import type Database from 'better-sqlite3';

export interface ModelRow {
  id: number;
  name: string;
  version: string;
  dir: string;
  active: boolean;
}

const now = () => new Date().toISOString();

/** The model versions the catalog knows (their weights' folders and cards), and which one classifies. */
export class ModelVersions {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

  /** Adds a model (once per weights version) and returns its row. */
  registerModel(model: { name: string; version: string; dir: string; card: unknown; parentId?: number }): ModelRow {
    this.db
      .prepare(
        `INSERT INTO models (name, version, dir, parent_id, card, created_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (version) DO UPDATE SET dir = excluded.dir`,
      )
      .run(model.name, model.version, model.dir, model.parentId ?? null, JSON.stringify(model.card), now());
    return this.modelByVersion(model.version)!;
  }

  activateModel(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE models SET active = 0 WHERE active = 1').run();
      if (this.db.prepare('UPDATE models SET active = 1 WHERE id = ?').run(id).changes !== 1)
        throw new Error(`no model with id ${id} in the catalog`);
    })();
  }

  activeModel(): ModelRow | undefined {
    return this.modelWhere('active = 1');
  }

  model(id: number): ModelRow | undefined {
    return this.modelWhere('id = ?', id);
  }

  /** The registered model with these weights (the version is their sha256), if any. */
  modelByVersion(version: string): ModelRow | undefined {
    return this.modelWhere('version = ?', version);
  }

  /** Every model version, newest first, with its parent and card (metrics, training data, hyperparameters). */
  all(): (ModelRow & { parentId: number | null; createdAt: string; card: unknown })[] {
    const rows = this.db
      .prepare('SELECT id, name, version, dir, active, parent_id, created_at, card FROM models ORDER BY id DESC')
      .all() as {
      id: number;
      name: string;
      version: string;
      dir: string;
      active: number;
      parent_id: number | null;
      created_at: string;
      card: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      version: r.version,
      dir: r.dir,
      active: r.active === 1,
      parentId: r.parent_id,
      createdAt: r.created_at,
      card: JSON.parse(r.card),
    }));
  }

  /** A candidate that was discarded: its row and its predictions go (photos never point at a candidate's). */
  deleteModel(id: number): void {
    this.db.transaction(() => {
      if (this.model(id)?.active)
        throw new Error('the active model cannot be discarded; activate another version first');
      this.db
        .prepare(
          'UPDATE photos SET prediction_id = NULL WHERE prediction_id IN (SELECT id FROM predictions WHERE model_id = ?)',
        )
        .run(id);
      this.db.prepare('DELETE FROM predictions WHERE model_id = ?').run(id);
      this.db.prepare('UPDATE models SET parent_id = NULL WHERE parent_id = ?').run(id);
      this.db.prepare('DELETE FROM models WHERE id = ?').run(id);
    })();
  }

  private modelWhere(where: string, ...params: unknown[]): ModelRow | undefined {
    const row = this.db.prepare(`SELECT id, name, version, dir, active FROM models WHERE ${where}`).get(...params) as
      (Omit<ModelRow, 'active'> & { active: number }) | undefined;
    return row && { ...row, active: row.active === 1 };
  }
}
