import type Database from 'better-sqlite3';

/**
 * The catalog's schema, one migration per version (`PRAGMA user_version` counts how many ran).
 * Append new migrations; never edit one that has shipped.
 */
export const MIGRATIONS: string[] = [
  /* 1: photos, their paths, predictions, the human label log, models and import jobs */ `
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- sha256 of the weights: what "model version" means everywhere
    version TEXT NOT NULL UNIQUE,
    dir TEXT NOT NULL,
    parent_id INTEGER REFERENCES models(id),
    card TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
  );
  CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;

  CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    -- the file name it was last imported under, for sorting and searching by name
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing')),
    added_at TEXT NOT NULL,
    -- copies of the latest prediction and the current human label, so the UI's queries need no joins
    prediction_id INTEGER REFERENCES predictions(id),
    predicted_label INTEGER CHECK (predicted_label BETWEEN 0 AND 9),
    confidence REAL,
    runner_up INTEGER CHECK (runner_up BETWEEN 0 AND 9),
    margin REAL,
    label INTEGER CHECK (label BETWEEN 0 AND 9),
    category INTEGER GENERATED ALWAYS AS (coalesce(label, predicted_label)) VIRTUAL
  );
  CREATE INDEX photos_category_confidence ON photos(category, confidence);
  CREATE INDEX photos_confidence ON photos(confidence);
  CREATE INDEX photos_name ON photos(name);
  -- the review queue: unlabeled photos by confidence, and by top-two margin
  CREATE INDEX photos_label_confidence ON photos(label, confidence);
  CREATE INDEX photos_label_margin ON photos(label, margin, confidence, predicted_label, runner_up);
  -- counts per category: SQLite does not answer them from an index on the generated column alone
  CREATE INDEX photos_label_prediction ON photos(label, predicted_label);

  -- The 28×28 model input (Fashion-MNIST polarity), kept for fine-tuning, the UI and exports; in its own
  -- table so that scans of photos (counts, review queues) do not read 784 bytes per row.
  CREATE TABLE photo_inputs (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id),
    pixels BLOB NOT NULL CHECK (length(pixels) = 784)
  );

  CREATE TABLE photo_paths (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    seen_at TEXT NOT NULL
  );
  CREATE INDEX photo_paths_photo ON photo_paths(photo_id);
  CREATE INDEX photo_paths_name ON photo_paths(name);

  CREATE TABLE predictions (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    model_id INTEGER NOT NULL REFERENCES models(id),
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    confidence REAL NOT NULL,
    -- the full probability vector, 10 little-endian float32
    probabilities BLOB NOT NULL CHECK (length(probabilities) = 40),
    created_at TEXT NOT NULL,
    UNIQUE (photo_id, model_id)
  );

  -- The human label log: append-only; a photo's current label is its latest entry.
  CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    old_label INTEGER CHECK (old_label BETWEEN 0 AND 9),
    new_label INTEGER CHECK (new_label BETWEEN 0 AND 9),
    reviewer TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX labels_photo ON labels(photo_id, id);
  CREATE TRIGGER labels_no_update BEFORE UPDATE ON labels BEGIN SELECT RAISE(ABORT, 'the label log is append-only'); END;
  CREATE TRIGGER labels_no_delete BEFORE DELETE ON labels BEGIN SELECT RAISE(ABORT, 'the label log is append-only'); END;
  CREATE TRIGGER labels_current AFTER INSERT ON labels BEGIN
    UPDATE photos SET label = NEW.new_label WHERE id = NEW.photo_id;
  END;

  CREATE TABLE import_jobs (
    id INTEGER PRIMARY KEY,
    -- JSON array of the folders (or files) the user chose, absolute
    roots TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
    walked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    finished_at TEXT
  );

  -- Every file an import found, and what became of it; failed rows are the per-file error list.
  CREATE TABLE import_files (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES import_jobs(id),
    path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    photo_id INTEGER REFERENCES photos(id),
    error TEXT,
    UNIQUE (job_id, path)
  );
  CREATE INDEX import_files_state ON import_files(job_id, state);
  CREATE INDEX import_files_photo ON import_files(photo_id);
  `,

  /* 2: the journal of sorting photos into category folders, so a crash mid-move resumes or reports exactly */ `
  CREATE TABLE sort_jobs (
    id INTEGER PRIMARY KEY,
    dest TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('copy', 'move')),
    -- JSON array of the 10 folder names, by category id
    folders TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped')),
    created_at TEXT NOT NULL,
    finished_at TEXT
  );

  -- One row per photo a job sorts: where it came from, where it goes, and how far it got.
  -- planned: nothing on disk yet; copied: the target is complete and verified (a move has not yet removed
  -- its source); done: finished; failed: skipped, with the reason.
  CREATE TABLE sort_files (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES sort_jobs(id),
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'copied', 'done', 'failed')),
    error TEXT,
    UNIQUE (job_id, photo_id),
    UNIQUE (job_id, target)
  );
  CREATE INDEX sort_files_state ON sort_files(job_id, state);
  `,

  /*
   * 3: what the UI asks most, kept current by triggers instead of counted on every ask: photos per category
   * (reviewed or not), files per import job and state, and a trigram index of photo names for searching.
   * On a million photos each count was a scan of 0.1–0.3 s.
   */ `
  -- category -1: photos with neither a label nor a prediction yet
  CREATE TABLE category_counts (
    category INTEGER PRIMARY KEY,
    reviewed INTEGER NOT NULL DEFAULT 0,
    unreviewed INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO category_counts (category) VALUES (-1), (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
  UPDATE category_counts SET
    reviewed = (SELECT count(*) FROM photos WHERE label IS NOT NULL AND label = category_counts.category),
    unreviewed = (SELECT count(*) FROM photos WHERE label IS NULL AND coalesce(predicted_label, -1) = category_counts.category);
  CREATE TRIGGER photos_count_insert AFTER INSERT ON photos BEGIN
    UPDATE category_counts SET reviewed = reviewed + (NEW.label IS NOT NULL), unreviewed = unreviewed + (NEW.label IS NULL)
      WHERE category = coalesce(NEW.label, NEW.predicted_label, -1);
  END;
  CREATE TRIGGER photos_count_delete AFTER DELETE ON photos BEGIN
    UPDATE category_counts SET reviewed = reviewed - (OLD.label IS NOT NULL), unreviewed = unreviewed - (OLD.label IS NULL)
      WHERE category = coalesce(OLD.label, OLD.predicted_label, -1);
  END;
  CREATE TRIGGER photos_count_update AFTER UPDATE OF label, predicted_label ON photos
    WHEN OLD.label IS NOT NEW.label OR OLD.predicted_label IS NOT NEW.predicted_label BEGIN
    UPDATE category_counts SET reviewed = reviewed - (OLD.label IS NOT NULL), unreviewed = unreviewed - (OLD.label IS NULL)
      WHERE category = coalesce(OLD.label, OLD.predicted_label, -1);
    UPDATE category_counts SET reviewed = reviewed + (NEW.label IS NOT NULL), unreviewed = unreviewed + (NEW.label IS NULL)
      WHERE category = coalesce(NEW.label, NEW.predicted_label, -1);
  END;

  CREATE TABLE import_file_counts (
    job_id INTEGER NOT NULL REFERENCES import_jobs(id),
    state TEXT NOT NULL,
    files INTEGER NOT NULL,
    PRIMARY KEY (job_id, state)
  ) WITHOUT ROWID;
  INSERT INTO import_file_counts (job_id, state, files) SELECT job_id, state, count(*) FROM import_files GROUP BY job_id, state;
  CREATE TRIGGER import_files_count_insert AFTER INSERT ON import_files BEGIN
    INSERT INTO import_file_counts (job_id, state, files) VALUES (NEW.job_id, NEW.state, 1)
      ON CONFLICT (job_id, state) DO UPDATE SET files = files + 1;
  END;
  CREATE TRIGGER import_files_count_delete AFTER DELETE ON import_files BEGIN
    UPDATE import_file_counts SET files = files - 1 WHERE job_id = OLD.job_id AND state = OLD.state;
  END;
  CREATE TRIGGER import_files_count_update AFTER UPDATE OF state ON import_files WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE import_file_counts SET files = files - 1 WHERE job_id = OLD.job_id AND state = OLD.state;
    INSERT INTO import_file_counts (job_id, state, files) VALUES (NEW.job_id, NEW.state, 1)
      ON CONFLICT (job_id, state) DO UPDATE SET files = files + 1;
  END;

  CREATE VIRTUAL TABLE photo_names USING fts5(name, content = 'photos', content_rowid = 'id', tokenize = 'trigram');
  INSERT INTO photo_names (photo_names) VALUES ('rebuild');
  CREATE TRIGGER photos_names_insert AFTER INSERT ON photos BEGIN
    INSERT INTO photo_names (rowid, name) VALUES (NEW.id, NEW.name);
  END;
  CREATE TRIGGER photos_names_delete AFTER DELETE ON photos BEGIN
    INSERT INTO photo_names (photo_names, rowid, name) VALUES ('delete', OLD.id, OLD.name);
  END;
  CREATE TRIGGER photos_names_update AFTER UPDATE OF name ON photos WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO photo_names (photo_names, rowid, name) VALUES ('delete', OLD.id, OLD.name);
    INSERT INTO photo_names (rowid, name) VALUES (NEW.id, NEW.name);
  END;
  `,

  /*
   * 4: a sort places every file, not every photo: two files with the same content (one packshot saved for
   * two SKUs) are one photo with two paths, and both are sorted. So a job's files are unique by source
   * path, no longer by photo; SQLite cannot drop a constraint, hence the rebuilt table.
   */ `
  CREATE TABLE sort_files_by_source (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES sort_jobs(id),
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'copied', 'done', 'failed')),
    error TEXT,
    UNIQUE (job_id, source),
    UNIQUE (job_id, target)
  );
  INSERT INTO sort_files_by_source (id, job_id, photo_id, source, target, state, error)
    SELECT id, job_id, photo_id, source, target, state, error FROM sort_files;
  DROP TABLE sort_files;
  ALTER TABLE sort_files_by_source RENAME TO sort_files;
  CREATE INDEX sort_files_state ON sort_files(job_id, state);
  CREATE INDEX sort_files_photo ON sort_files(photo_id);
  `,

  /*
   * 5: names and paths compared in one Unicode normal form (NFC). A Mac writes "blü" decomposed (u and a
   * combining diaeresis), a spreadsheet or a search box composed; they are the same name to a person. The
   * path itself stays exactly as the file system spells it (to open the file); path_key is the form it is
   * looked up by, and the names kept for searching and lookups are NFC. nfc() is registered by migrate().
   */ `
  ALTER TABLE photo_paths ADD COLUMN path_key TEXT;
  UPDATE photo_paths SET path_key = nfc(path), name = nfc(name);
  CREATE INDEX photo_paths_key ON photo_paths(path_key);
  UPDATE photos SET name = nfc(name) WHERE name IS NOT nfc(name);
  `,

  /*
   * 6: how many files the catalog knows (photo_paths), kept by triggers as the category counts are: the
   * window shows it beside the distinct photos on every refresh, and counting 100,000+ paths each time
   * would read the whole index. An upsert that updates a path adds no row and fires no insert trigger.
   */ `
  CREATE TABLE file_count (id INTEGER PRIMARY KEY CHECK (id = 0), files INTEGER NOT NULL);
  INSERT INTO file_count (id, files) VALUES (0, (SELECT count(*) FROM photo_paths));
  CREATE TRIGGER photo_paths_count_insert AFTER INSERT ON photo_paths BEGIN
    UPDATE file_count SET files = files + 1 WHERE id = 0;
  END;
  CREATE TRIGGER photo_paths_count_delete AFTER DELETE ON photo_paths BEGIN
    UPDATE file_count SET files = files - 1 WHERE id = 0;
  END;
  `,

  /*
   * 7: how unlike the model's training images each photo's input is (ml/novelty.ts: its distance in the
   * network's features over the model's threshold, so 1 and above is unusual; null for a model without
   * statistics), kept per prediction and copied onto the photo as the confidence is: an unusual photo needs
   * review whatever the softmax says. And the outline of the garment isolation cut out (photos/outline.ts),
   * for the review view; no row where isolation did not run.
   */ `
  ALTER TABLE predictions ADD COLUMN novelty REAL;
  ALTER TABLE photos ADD COLUMN novelty REAL;
  CREATE INDEX photos_label_novelty ON photos(label, novelty);
  CREATE TABLE photo_outlines (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id),
    -- JSON: an array of closed polygons [x0, y0, x1, y1, …], coordinates 0–1 relative to the photo's width and height
    outline TEXT NOT NULL
  );
  `,

  /*
   * 8: photos taken out of the catalog (a wrong folder imported), softly: the row stays, so the label log and
   * the model versions trained on it stay whole and the removal can be undone, but it leaves every count,
   * queue, page, export and sort. One removal row per action (some photos, or one import), so undoing it
   * brings back exactly what it took. The indexes the window's queries use become partial (removal_id IS NULL),
   * so those queries still read the index alone; the kept counts leave a removed photo and its files out.
   */ `
  CREATE TABLE removals (
    id INTEGER PRIMARY KEY,
    -- the import removed, or null for photos removed one by one
    import_id INTEGER REFERENCES import_jobs(id),
    created_at TEXT NOT NULL
  );
  ALTER TABLE photos ADD COLUMN removal_id INTEGER REFERENCES removals(id);
  ALTER TABLE import_jobs ADD COLUMN removal_id INTEGER REFERENCES removals(id);

  DROP INDEX photos_category_confidence;
  DROP INDEX photos_confidence;
  DROP INDEX photos_name;
  DROP INDEX photos_label_confidence;
  DROP INDEX photos_label_margin;
  DROP INDEX photos_label_prediction;
  DROP INDEX photos_label_novelty;
  CREATE INDEX photos_category_confidence ON photos(category, confidence) WHERE removal_id IS NULL;
  CREATE INDEX photos_confidence ON photos(confidence) WHERE removal_id IS NULL;
  CREATE INDEX photos_name ON photos(name) WHERE removal_id IS NULL;
  CREATE INDEX photos_label_confidence ON photos(label, confidence) WHERE removal_id IS NULL;
  CREATE INDEX photos_label_margin ON photos(label, margin, confidence, predicted_label, runner_up) WHERE removal_id IS NULL;
  CREATE INDEX photos_label_prediction ON photos(label, predicted_label) WHERE removal_id IS NULL;
  CREATE INDEX photos_label_novelty ON photos(label, novelty) WHERE removal_id IS NULL;
  CREATE INDEX photos_removed ON photos(removal_id, label) WHERE removal_id IS NOT NULL;

  -- A removed photo is counted nowhere: a change to it (re-predicted on activation) moves no count.
  DROP TRIGGER photos_count_delete;
  CREATE TRIGGER photos_count_delete AFTER DELETE ON photos WHEN OLD.removal_id IS NULL BEGIN
    UPDATE category_counts SET reviewed = reviewed - (OLD.label IS NOT NULL), unreviewed = unreviewed - (OLD.label IS NULL)
      WHERE category = coalesce(OLD.label, OLD.predicted_label, -1);
  END;
  DROP TRIGGER photos_count_update;
  CREATE TRIGGER photos_count_update AFTER UPDATE OF label, predicted_label ON photos
    WHEN (OLD.label IS NOT NEW.label OR OLD.predicted_label IS NOT NEW.predicted_label)
      AND OLD.removal_id IS NULL AND NEW.removal_id IS NULL BEGIN
    UPDATE category_counts SET reviewed = reviewed - (OLD.label IS NOT NULL), unreviewed = unreviewed - (OLD.label IS NULL)
      WHERE category = coalesce(OLD.label, OLD.predicted_label, -1);
    UPDATE category_counts SET reviewed = reviewed + (NEW.label IS NOT NULL), unreviewed = unreviewed + (NEW.label IS NULL)
      WHERE category = coalesce(NEW.label, NEW.predicted_label, -1);
  END;
  CREATE TRIGGER photos_count_remove AFTER UPDATE OF removal_id ON photos
    WHEN OLD.removal_id IS NULL AND NEW.removal_id IS NOT NULL BEGIN
    UPDATE category_counts SET reviewed = reviewed - (OLD.label IS NOT NULL), unreviewed = unreviewed - (OLD.label IS NULL)
      WHERE category = coalesce(OLD.label, OLD.predicted_label, -1);
    UPDATE file_count SET files = files - (SELECT count(*) FROM photo_paths WHERE photo_id = OLD.id) WHERE id = 0;
  END;
  CREATE TRIGGER photos_count_restore AFTER UPDATE OF removal_id ON photos
    WHEN OLD.removal_id IS NOT NULL AND NEW.removal_id IS NULL BEGIN
    UPDATE category_counts SET reviewed = reviewed + (NEW.label IS NOT NULL), unreviewed = unreviewed + (NEW.label IS NULL)
      WHERE category = coalesce(NEW.label, NEW.predicted_label, -1);
    UPDATE file_count SET files = files + (SELECT count(*) FROM photo_paths WHERE photo_id = NEW.id) WHERE id = 0;
  END;
  DROP TRIGGER photo_paths_count_insert;
  CREATE TRIGGER photo_paths_count_insert AFTER INSERT ON photo_paths BEGIN
    UPDATE file_count SET files = files + ((SELECT removal_id FROM photos WHERE id = NEW.photo_id) IS NULL) WHERE id = 0;
  END;
  DROP TRIGGER photo_paths_count_delete;
  CREATE TRIGGER photo_paths_count_delete AFTER DELETE ON photo_paths BEGIN
    UPDATE file_count SET files = files - ((SELECT removal_id FROM photos WHERE id = OLD.photo_id) IS NULL) WHERE id = 0;
  END;
  -- a path whose file now holds another photo (edited in place) moves between a removed photo and a kept one
  CREATE TRIGGER photo_paths_count_move AFTER UPDATE OF photo_id ON photo_paths WHEN OLD.photo_id IS NOT NEW.photo_id BEGIN
    UPDATE file_count SET files = files + ((SELECT removal_id FROM photos WHERE id = NEW.photo_id) IS NULL)
      - ((SELECT removal_id FROM photos WHERE id = OLD.photo_id) IS NULL) WHERE id = 0;
  END;
  `,

  /*
   * 9: the Errors list finds, for each failed file, whether a later import read it (resolved) or failed on it
   * again (the newer failure stands for it): a lookup by path.
   */ `
  CREATE INDEX import_files_path ON import_files(path, job_id);
  `,

  /*
   * 10: one sort at a time on a catalog (two moves of the same photos, from a window and a command, took each
   * other's journaled files for an interrupted job's and interleaved): which process sorts, for the message a
   * second one gets. The lock itself is a file lock the system lets go when that process ends (sortIntoFolders).
   */ `
  CREATE TABLE sort_holder (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL
  );
  `,
];

/**
 * The one normal form names and paths are compared in (labels files, search, sort plans): NFC, as
 * keyboards and spreadsheets type, while macOS file names arrive decomposed (NFD).
 */
export const comparable = (text: string): string => text.normalize('NFC');

/**
 * SQLite's application id of a Fashion Sorter catalog ("FSrt"; https://www.sqlite.org/pragma.html#pragma_application_id),
 * set with every migration, so that another program's database is told apart from a catalog.
 */
export const APPLICATION_ID = 0x46537274;

/**
 * Why the open database `db` is not a Fashion Sorter catalog, or undefined when it is one or holds no tables
 * yet (a new catalog). A catalog made before its application id was set is told by its schema version and its
 * photos and models tables. Reads only.
 */
export function notACatalog(db: Database.Database): string | undefined {
  const id = db.pragma('application_id', { simple: true }) as number;
  if (id === APPLICATION_ID) return undefined;
  if (id !== 0) return `it is another program's SQLite database (application id ${id}), not a Fashion Sorter catalog`;
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
  if (tables.length === 0) return undefined;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= 1 && tables.includes('photos') && tables.includes('models')) return undefined;
  const some = tables.slice(0, 3).join(', ') + (tables.length > 3 ? ', …' : '');
  return `it is a SQLite database with other tables (${some}), not a Fashion Sorter catalog`;
}

/**
 * How many migrations a catalog needs to reach this version's schema (0 for an up-to-date one); throws for a
 * catalog a newer Fashion Sorter wrote. Reads only, so it runs while another program holds the write lock.
 */
export function migrationsDue(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `this catalog was written by a newer Fashion Sorter (schema ${current}, this version knows ${MIGRATIONS.length}); update the app to open it`,
    );
  }
  return MIGRATIONS.length - current;
}

/**
 * Brings a catalog up to the newest schema, one transaction per migration (savepoints inside a write the
 * caller holds: Catalog.open runs them all once the catalog accepts writes).
 */
export function migrate(db: Database.Database): void {
  // Only migrations call it; the schema never does, so other programs can still read the catalog.
  db.function('nfc', { deterministic: true }, (text: unknown) => (typeof text === 'string' ? comparable(text) : text));
  // Read again here: another Fashion Sorter may have migrated the catalog while this one waited for it.
  const due = migrationsDue(db);
  for (let version = MIGRATIONS.length - due; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
      db.pragma(`application_id = ${APPLICATION_ID}`);
    })();
  }
}
