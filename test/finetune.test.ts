import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { loadFashionMnist, PIXELS, type FashionMnist } from '../electron/dataset/fashionMnist.ts';
import { activateModel, improveModel } from '../electron/learning/improveModel.ts';
import {
  DEFAULT_FINETUNE_OPTIONS,
  fineTune,
  MIN_LABELS,
  NotEnoughLabels,
  splitLabels,
} from '../electron/ml/fineTune.ts';
import { TrainingDiverged } from '../electron/ml/train.ts';
import { createServices } from '../electron/app/services.ts';
import { modelVersion } from '../electron/ml/inference.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { hasModel, readPrototypes, readWeights } from '../electron/ml/modelFiles.ts';
import { writeShiftedPhotos } from './fixtures/samplePhotos.ts';
import { smallFashionMnist } from './helpers/dataset.ts';
import { withSmallDrive } from './helpers/drives.ts';
import { tempDir } from './helpers/photos.ts';
import { rawDb } from './helpers/rawSql.ts';
import { importPredicted } from './helpers/catalogs.ts';

const PHOTOS = 240;
const QUICK = { ...DEFAULT_FINETUNE_OPTIONS, epochs: 2, minSteps: 0 };
let data: FashionMnist;
/** The first images of Fashion-MNIST, which fine-tuning here replays and compares on (test/helpers/dataset.ts). */
let smallData: FashionMnist;
const templateDir = tempDir('finetune-template');
const smallDataDir = path.join(templateDir, 'fashion-mnist');
const template = path.join(templateDir, 'template.sqlite');

/** sha256 of every file directly in a folder, by name. */
function folderHashes(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .filter((f) => fs.statSync(path.join(dir, f)).isFile())
      .map((f) => [
        f,
        crypto
          .createHash('sha256')
          .update(fs.readFileSync(path.join(dir, f)))
          .digest('hex'),
      ]),
  );
}

/** A shifted-domain photo's true category: its file name is its index in the test set. */
function truthOf(catalog: Catalog, photoId: number): number {
  const file = rawDb(catalog).prepare('SELECT path FROM photo_paths WHERE photo_id = ?').pluck().get(photoId) as string;
  return data.test.labels[Number(/shifted-(\d+)/.exec(file)![1])]!;
}

/** A copy of the template catalog: PHOTOS shifted-domain photos imported and predicted, `labeled` of them reviewed. */
function catalogWithLabels(name: string, labeled: number): { catalog: Catalog; file: string; dir: string } {
  const dir = tempDir(name);
  const file = path.join(dir, 'catalog.sqlite');
  fs.copyFileSync(template, file);
  const catalog = new Catalog(file);
  const ids = rawDb(catalog)
    .prepare('SELECT p.id, pp.path FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id ORDER BY pp.path')
    .raw()
    .all() as [number, string][];
  // The reviewers give each photo its true category (the photo's index in the test set names it).
  const truth = (file: string) => data.test.labels[Number(/shifted-(\d+)/.exec(file)![1])]!;
  catalog.labels.setLabels(
    ids.slice(0, labeled).map(([photoId, file]) => ({ photoId, label: truth(file) })),
    'tester',
  );
  return { catalog, file, dir };
}

before(async () => {
  data = await loadFashionMnist({ allowDownload: false });
  smallData = await smallFashionMnist(data, smallDataDir);
  const dir = templateDir;
  const photos = path.join(dir, 'photos');
  // Sideways: with garment isolation the conversion undoes the rest of the shift (the parent then got 94 % of
  // the unreviewed photos right, and fine-tuning had nothing left to learn).
  await writeShiftedPhotos(data.test.images, PHOTOS, photos, 9, 90);
  const catalog = new Catalog(template);
  try {
    await importPredicted(catalog, photos, path.join(dir, 'thumbs'), { withCard: false });
  } finally {
    catalog.close();
  }
});

test('labels are split per category: every category with 3 or more labels is in all three parts, and the parts are disjoint', () => {
  const labels = Uint8Array.from({ length: 200 }, (_, i) => (i < 2 ? 9 : i % 9));
  const split = splitLabels(labels, { heldOutFraction: 0.2, validationFraction: 0.2, seed: 4 });
  const all = [...split.train, ...split.validation, ...split.heldOut];
  assert.equal(new Set(all).size, labels.length, 'each label is in exactly one part');
  for (let k = 0; k < 9; k++) {
    for (const part of [split.train, split.validation, split.heldOut])
      assert.ok(
        [...part].some((i) => labels[i] === k),
        `category ${k} in every part`,
      );
  }
  assert.ok(
    [...split.train].filter((i) => labels[i] === 9).length === 2,
    'a category with 2 labels is only trained on',
  );
  assert.deepEqual(splitLabels(labels, { heldOutFraction: 0.2, validationFraction: 0.2, seed: 4 }), split, 'seeded');
  const none = splitLabels(labels, { heldOutFraction: 0, validationFraction: 0.2, seed: 4 });
  assert.equal(none.heldOut.length, 0, 'a fraction of 0 holds nothing out');
  assert.equal(none.train.length + none.validation.length, labels.length);
});

test(
  'a few dozen labels: the steps are raised to the minimum, at least the minimum of replay images is trained on, the photos are repeated to half of what is trained on, and the kept epoch is the one with the lowest validation loss',
  { timeout: 300_000 },
  async () => {
    const count = 40;
    const labeled = {
      images: data.test.images.subarray(0, count * PIXELS),
      labels: data.test.labels.subarray(0, count),
      count,
    };
    // Half the default minimum of steps: the rule is the same, the test twice as quick.
    const options = { ...DEFAULT_FINETUNE_OPTIONS, minSteps: 24, heldOutFraction: 0, patience: 100, prototypes: null };
    const result = await fineTune(defaultModelDir(), labeled, data.train, options);
    const train = result.split.train.length;
    assert.equal(result.replay.train, Math.max(options.minReplay, options.replayRatio * train));
    // Trained on: whole copies of the photos, at least labelShare of it, and the replay once.
    const trained = result.training.trainCount;
    const copies = (trained - result.replay.train) / train;
    assert.ok(copies === result.copies && copies > 1, `${trained} images trained on, ${train} photos`);
    assert.ok(copies * train >= options.labelShare * trained, `${copies} copies of ${train} photos in ${trained}`);
    // Four epochs over the photos and the replay once each would be fewer steps than the minimum; the copies make
    // the epochs longer and fewer, not the run: within half an epoch of the minimum rounded up to whole plain epochs.
    const stepsPerEpoch = Math.ceil(trained / options.batchSize);
    assert.ok(options.epochs * Math.ceil((train + result.replay.train) / options.batchSize) < options.minSteps);
    const steps = result.history.length * stepsPerEpoch;
    assert.ok(
      Math.abs(steps - options.minSteps) <=
        stepsPerEpoch / 2 + Math.ceil((train + result.replay.train) / options.batchSize),
      `${result.history.length} epochs of ${stepsPerEpoch} steps`,
    );
    assert.equal(result.history.length, result.training.options.epochs, 'every epoch ran (patience outlasts them)');
    const losses = result.history.map((r) => r.validationLoss!);
    assert.equal(result.bestEpoch, losses.indexOf(Math.min(...losses)) + 1);
    // `finetune --epochs 1`: the steps of one pass over the photos and the replay once each; only as many copies as
    // that holds, so the run is one epoch of those steps, not one longer one.
    const once = await fineTune(defaultModelDir(), labeled, data.train, { ...options, epochs: 1, minSteps: 0 });
    const plainSteps = Math.ceil((train + once.replay.train) / options.batchSize);
    assert.equal(once.history.length, 1);
    assert.ok(
      once.stepsPerEpoch <= plainSteps,
      `${once.stepsPerEpoch} steps against ${plainSteps} (${once.copies} copies)`,
    );
  },
);

test('too few reviewed photos: a clear refusal, and nothing changes', async () => {
  const { catalog, dir } = catalogWithLabels('finetune-few', MIN_LABELS - 1);
  const before = catalog.models.all();
  await assert.rejects(improveModel(catalog, smallData, path.join(dir, 'models'), QUICK), (err: Error) => {
    assert.ok(err instanceof NotEnoughLabels);
    assert.match(err.message, new RegExp(`at least ${MIN_LABELS} reviewed photos; the catalog has ${MIN_LABELS - 1}`));
    return true;
  });
  assert.deepEqual(catalog.models.all(), before);
  assert.equal(fs.existsSync(path.join(dir, 'models')), false);
  catalog.close();
});

test(
  'fine-tuning publishes an inactive version with its parent and provenance, compared on held-out labels, the test set and the catalog; activating it re-predicts the unreviewed photos and rolling back restores the old predictions',
  { timeout: 600_000 },
  async () => {
    const labeled = 160;
    const { catalog, dir } = catalogWithLabels('finetune-run', labeled);
    const parent = catalog.models.activeModel()!;
    const parentFiles = folderHashes(parent.dir);
    const labelsBefore = rawDb(catalog).prepare('SELECT photo_id, new_label FROM labels ORDER BY id').raw().all();
    const predictedBefore = rawDb(catalog)
      .prepare('SELECT id, predicted_label, prediction_id FROM photos WHERE label IS NULL ORDER BY id')
      .raw()
      .all() as [number, number, number][];

    // The defaults, less the minimum of steps (its own test above): four epochs keep this long test shorter.
    const options = { ...DEFAULT_FINETUNE_OPTIONS, minSteps: 0 };
    const candidate = await improveModel(catalog, smallData, path.join(dir, 'models'), options);

    // A new version, inactive, with its parent and what it was trained on.
    assert.equal(catalog.models.activeModel()!.id, parent.id, 'nothing is activated by fine-tuning');
    const versions = catalog.models.all();
    const row = versions.find((m) => m.id === candidate.model.id)!;
    assert.equal(row.parentId, parent.id);
    assert.ok(hasModel(row.dir) && readWeights(row.dir).length === readWeights(parent.dir).length);
    const provenance = (
      row.card as {
        fineTune: { labels: { train: number[]; validation: number[]; heldOut: number[] }; replay: { seed: number } };
      }
    ).fineTune;
    const { train, validation, heldOut } = provenance.labels;
    assert.equal(train.length + validation.length + heldOut.length, labeled);
    assert.equal(new Set([...train, ...validation, ...heldOut]).size, labeled, 'held-out labels are never trained on');
    assert.equal(typeof provenance.replay.seed, 'number');
    assert.deepEqual(folderHashes(parent.dir), parentFiles, 'the parent model files are untouched');

    const labeledCategories = new Set(
      rawDb(catalog).prepare('SELECT DISTINCT label FROM photos WHERE label IS NOT NULL').pluck().all(),
    );
    assert.deepEqual(
      candidate.fineTune.categoriesWithoutLabels,
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((k) => !labeledCategories.has(k)),
    );

    // The comparison: both models on the same held-out labels and test set; the catalog changes counted.
    const { comparison } = candidate;
    assert.equal(comparison.heldOut.count, heldOut.length);
    assert.equal(comparison.testSet.count, smallData.test.count);
    for (const scores of [
      comparison.heldOut.current,
      comparison.heldOut.candidate,
      comparison.testSet.current,
      comparison.testSet.candidate,
    ]) {
      assert.ok(scores.accuracy >= 0 && scores.accuracy <= 1 && scores.f1.length === 10);
    }
    // Every number says on how many of the user's own photos it rests; the replay images are counted apart.
    assert.equal(comparison.validation.count, validation.length);
    assert.equal(comparison.replay.count, DEFAULT_FINETUNE_OPTIONS.replayRatio * validation.length);
    assert.ok(comparison.replay.accuracy! > 0.8, `the replay guard: ${comparison.replay.accuracy}`);
    const yourPhotos = (
      row.card as {
        fineTune: {
          yourPhotos: {
            heldOut: { count: number; accuracy: number };
            validation: { count: number; accuracy: number };
            train: number;
          };
        };
      }
    ).fineTune.yourPhotos;
    assert.deepEqual(
      [yourPhotos.heldOut.count, yourPhotos.validation.count, yourPhotos.train],
      [heldOut.length, validation.length, train.length],
    );
    assert.equal(yourPhotos.heldOut.accuracy, comparison.heldOut.candidate.accuracy);
    assert.equal(yourPhotos.validation.accuracy, comparison.validation.candidate.accuracy);
    // The prototypes (class means of the training photos' features) are part of the version and of its hash.
    const prototypes = readPrototypes(row.dir)!;
    assert.equal(
      prototypes.counts.reduce((a, b) => a + b, 0),
      train.length,
    );
    assert.equal(prototypes.weight, DEFAULT_FINETUNE_OPTIONS.prototypes!.weight);
    assert.equal(row.version, modelVersion(row.dir));
    assert.notEqual(
      row.version,
      crypto
        .createHash('sha256')
        .update(fs.readFileSync(path.join(row.dir, 'weights.bin')))
        .digest('hex'),
    );
    const card = readModelCard(row.dir)!;
    assert.equal(
      card.accuracy,
      comparison.testSet.candidate.accuracy,
      "the new version's card holds its own test scores",
    );
    assert.equal(card.name, candidate.model.name);
    assert.ok(
      comparison.heldOut.candidate.accuracy > comparison.heldOut.current.accuracy + 0.05,
      `it learned the shifted domain: ${comparison.heldOut.current.accuracy} → ${comparison.heldOut.candidate.accuracy} on held-out labels`,
    );
    assert.ok(
      comparison.testSet.candidate.accuracy > 0.85,
      `the fine-tuned model still knows Fashion-MNIST (${comparison.testSet.candidate.accuracy})`,
    );
    assert.equal(comparison.changes.photos, PHOTOS - labeled);
    assert.equal(
      comparison.changes.matrix.flat().reduce((a, b) => a + b, 0),
      PHOTOS - labeled,
    );
    assert.equal(
      comparison.changes.changed,
      comparison.changes.matrix.flat().reduce((a, b) => a + b, 0) -
        comparison.changes.matrix.reduce((a, r, k) => a + r[k]!, 0),
    );
    assert.deepEqual(
      rawDb(catalog)
        .prepare('SELECT id, predicted_label, prediction_id FROM photos WHERE label IS NULL ORDER BY id')
        .raw()
        .all(),
      predictedBefore,
      'comparing changes no current prediction',
    );

    // Activating: every unreviewed photo's current prediction is the new model's; the labels are untouched.
    const activated = await activateModel(catalog, candidate.model.id);
    // The comparison predicted them all already: taken as stored, none predicted again.
    assert.deepEqual(activated, { repredicted: PHOTOS - labeled, predictedNow: 0, status: 'done' });
    // Beyond the 32 held-out labels, the 80 photos nobody reviewed (their true category is in their name) say so too.
    const unreviewedRight = (predicted: [number, number][]) =>
      predicted.filter(([id, label]) => label === truthOf(catalog, id)).length / predicted.length;
    const predictedAfter = rawDb(catalog)
      .prepare('SELECT id, predicted_label FROM photos WHERE label IS NULL ORDER BY id')
      .raw()
      .all() as [number, number][];
    const [rightBefore, rightAfter] = [
      unreviewedRight(predictedBefore.map(([id, label]) => [id, label])),
      unreviewedRight(predictedAfter),
    ];
    // Better, not by a set margin: on 80 sideways photos the gain was 4 photos (+0.05) in one run and more in
    // others; the held-out comparison above asserts its size.
    assert.ok(
      rightAfter > rightBefore,
      `it learned the shifted domain: ${rightBefore} → ${rightAfter} of the unreviewed photos right`,
    );
    assert.equal(catalog.models.activeModel()!.id, candidate.model.id);
    const byModel = () =>
      rawDb(catalog)
        .prepare(
          `SELECT r.model_id, count(*) FROM photos p JOIN predictions r ON r.id = p.prediction_id WHERE p.label IS NULL GROUP BY r.model_id`,
        )
        .raw()
        .all();
    assert.deepEqual(byModel(), [[candidate.model.id, PHOTOS - labeled]]);
    assert.equal(
      rawDb(catalog)
        .prepare('SELECT count(*) FROM photos WHERE label IS NULL AND predicted_label IS NULL')
        .pluck()
        .get(),
      0,
    );
    assert.deepEqual(
      rawDb(catalog).prepare('SELECT photo_id, new_label FROM labels ORDER BY id').raw().all(),
      labelsBefore,
    );

    // Rolling back to the parent brings its predictions back exactly.
    await activateModel(catalog, parent.id);
    assert.deepEqual(byModel(), [[parent.id, PHOTOS - labeled]]);
    assert.deepEqual(
      rawDb(catalog).prepare('SELECT id, predicted_label FROM photos WHERE label IS NULL ORDER BY id').raw().all(),
      predictedBefore.map(([id, label]) => [id, label]),
    );

    // The same labels again give the same weights: the same version, its folder reused, none left over.
    const again = await improveModel(catalog, smallData, path.join(dir, 'models'), options);
    assert.equal(again.model.id, candidate.model.id);
    assert.equal(again.model.dir, row.dir);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'models')), [path.basename(row.dir)]);
    assert.equal(catalog.models.all().length, versions.length);
    catalog.close();
  },
);

/** Runs `finetune` and kills it with SIGKILL as soon as stderr shows `marker`. */
function killFinetuneAt(dbFile: string, modelsDir: string, marker: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...['--import', 'tsx', 'electron/cli.ts', 'finetune', '--db', dbFile, '--models', modelsDir],
        ...['--epochs', '2', '--data', smallDataDir],
      ],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (marker.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL'
        ? resolve(stderr)
        : reject(new Error(`finetune ended (${code}) before ${marker}: ${stderr}`)),
    );
  });
}

for (const [moment, marker] of [
  ['while training', /epoch 1\/2 step|epoch 1:/],
  ['while saving the new version', /saving…/],
] as const) {
  test(
    `SIGKILL ${moment}: the active model, its files and the catalog are unchanged and valid`,
    { timeout: 600_000 },
    async () => {
      const { catalog, file, dir } = catalogWithLabels(`finetune-kill-${moment.split(' ').at(-1)}`, 120);
      const active = catalog.models.activeModel()!;
      const activeFiles = folderHashes(active.dir);
      const models = catalog.models.all();
      const predictions = rawDb(catalog).prepare('SELECT id, prediction_id, label FROM photos ORDER BY id').raw().all();
      catalog.close();
      const modelsDir = path.join(dir, 'models');

      await killFinetuneAt(file, modelsDir, marker);

      const reopened = new Catalog(file);
      assert.equal(rawDb(reopened).pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(reopened.models.activeModel()!.id, active.id);
      assert.deepEqual(reopened.models.all(), models, 'no half-registered version');
      assert.deepEqual(
        rawDb(reopened).prepare('SELECT id, prediction_id, label FROM photos ORDER BY id').raw().all(),
        predictions,
      );
      assert.deepEqual(folderHashes(active.dir), activeFiles);
      // Whatever reached the models folder is either a hidden staging folder or a complete, loadable model.
      for (const entry of fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir) : []) {
        if (!entry.startsWith('.'))
          assert.ok(
            hasModel(path.join(modelsDir, entry)) && readWeights(path.join(modelsDir, entry)).length > 0,
            `${entry} is complete`,
          );
      }
      // And the next run works.
      const candidate = await improveModel(reopened, smallData, modelsDir, { ...QUICK, epochs: 1 });
      assert.equal(reopened.models.model(candidate.model.id)!.active, false);
      reopened.close();
    },
  );
}

test(
  'a diverging run (learning rate far too high) stops with a clear message, and nothing changes',
  { timeout: 300_000 },
  async () => {
    const { catalog, dir } = catalogWithLabels('finetune-diverge', 80);
    const models = catalog.models.all();
    await assert.rejects(
      improveModel(catalog, smallData, path.join(dir, 'models'), { ...QUICK, peakLearningRate: 1e6 }),
      (err: Error) => {
        assert.ok(err instanceof TrainingDiverged, err.message);
        assert.match(
          err.message,
          /training diverged at epoch 1, step \d+ \(loss (NaN|Infinity|\d[\d.e+]*)\); try a lower learning rate/,
        );
        return true;
      },
    );
    assert.deepEqual(catalog.models.all(), models);
    assert.equal(fs.existsSync(path.join(dir, 'models')), false);
    catalog.close();
  },
);

test(
  'cancelled while comparing (Ctrl-C during "comparing…"): the message says nothing was changed, and nothing was',
  { timeout: 300_000 },
  async () => {
    const { catalog, dir } = catalogWithLabels('finetune-cancel-comparing', 80);
    const models = catalog.models.all();
    const cancel = new AbortController();
    let scored = { done: 0, total: 0 };
    await assert.rejects(
      improveModel(
        catalog,
        smallData,
        path.join(dir, 'models'),
        { ...QUICK, epochs: 1 },
        // Once some images are scored: the comparison is under way, the candidate not yet kept.
        {
          signal: cancel.signal,
          onComparing: (done, total) => {
            scored = { done, total };
            if (done > 0) cancel.abort();
          },
        },
      ),
      /^Error: cancelled; nothing was changed$/,
    );
    // It stops within a chunk of images, not after scoring the whole test set with both models.
    assert.ok(scored.done < scored.total / 2, `scored ${scored.done} of ${scored.total} images before it stopped`);
    assert.deepEqual(catalog.models.all(), models, 'no version registered');
    assert.equal(fs.existsSync(path.join(dir, 'models')), false, 'no version published');
    catalog.close();
  },
);

test(
  'the disk filling up while the new version is saved: a clear message, no partial folder, nothing changed',
  { timeout: 300_000 },
  async (t) => {
    const { catalog, dir } = catalogWithLabels('finetune-diskfull', 80);
    // A 256 KiB filesystem: the weights (about 1 MB) cannot fit.
    try {
      await withSmallDrive(t, path.join(dir, 'small'), 'size=256k', async (small) => {
        const models = catalog.models.all();
        await assert.rejects(
          improveModel(catalog, smallData, small, { ...QUICK, epochs: 1 }),
          /the new model version could not be saved in .+ \(the disk is full; free some space\) and was dropped; the active model is unchanged/,
        );
        assert.deepEqual(catalog.models.all(), models);
        assert.deepEqual(fs.readdirSync(small), [], 'the staging folder was removed');
      });
    } finally {
      catalog.close();
    }
  },
);

test(
  'quitting the app while it fine-tunes: the job stops at once, nothing is published or registered',
  { timeout: 300_000 },
  async () => {
    const { catalog, file, dir } = catalogWithLabels('finetune-quit', 80);
    const models = catalog.models.all();
    catalog.close();
    const modelsDir = path.join(dir, 'models');
    const services = createServices({
      catalogFile: file,
      thumbnailsDir: path.join(dir, 'thumbs'),
      modelsDir,
      dataDir: smallDataDir,
    });
    await services.api.improveModel();
    // Wait until training is under way (a step has reported progress).
    for (let s = await services.api.improveStatus(); !(s && s.epoch >= 1); s = await services.api.improveStatus())
      await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await services.close();
    assert.ok(performance.now() - started < 10_000, 'closing does not wait for training to finish');
    const reopened = new Catalog(file);
    assert.deepEqual(reopened.models.all(), models);
    reopened.close();
    assert.deepEqual(fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).filter((e) => !e.startsWith('.')) : [], []);
  },
);
