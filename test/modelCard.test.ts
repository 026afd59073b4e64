/**
 * The model card in the window, against a real catalog whose photos' true categories are known: the headline
 * is agreement with the reviewers (counted from the catalog, with its interval), a fine-tuned version shows
 * its own training, and Improve is offered only when there are reviews the newest version has not seen.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { noNewReviews, type ImproveStatus, type JobUpdate } from '../contract/api.ts';
import { wilsonInterval } from '../contract/intervals.ts';
import type { Services } from '../electron/app/services.ts';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { DEFAULT_FINETUNE_OPTIONS, MIN_LABELS } from '../electron/ml/fineTune.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { openRenderer, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { catalogServices, importPredicted, testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');
const PHOTOS = 80;

/** "86%, 95% CI 82–89%", computed here from the interval's bounds. */
const share = (k: number, n: number) => {
  const { low, high } = wilsonInterval(k, n);
  const whole = (x: number) => Math.round(100 * x);
  return `${whole(k / n)}%, 95% CI ${whole(low)}–${whole(high)}%`;
};

/**
 * A catalog of PHOTOS packshots of Fashion-MNIST test images (photo i is test image i), predicted by the
 * shipped model; reviewers gave the first `labeled` their true category. Returns the services over it.
 */
async function predictedCatalog(name: string, labeled: number, fineTune = DEFAULT_FINETUNE_OPTIONS) {
  const dir = tempDir(name);
  const files = await writePackshots(testSet.images, PHOTOS, path.join(dir, 'photos'), { seed: 3 });
  const catalogFile = path.join(dir, 'catalog.sqlite');
  const catalog = new Catalog(catalogFile);
  let ids: number[];
  try {
    await importPredicted(catalog, path.join(dir, 'photos'), path.join(dir, 'thumbs'));
    ids = files.map((file) => catalog.queries.photoAtPath(file)!);
    catalog.labels.setLabels(
      ids.slice(0, labeled).map((photoId, i) => ({ photoId, label: testSet.labels[i]! })),
      'tester',
    );
  } finally {
    catalog.close();
  }
  return { services: catalogServices(dir, fineTune), ids, catalogFile };
}

/**
 * Per category the photos' current prediction says: how many reviewed photos, and how many the reviewer gave
 * that category, from the grid's tiles (the photos' own rows, not the card's query).
 */
async function agreementFromTiles(services: Services, photoIds: number[]) {
  const per = Array.from({ length: 10 }, () => ({ reviewed: 0, agreed: 0 }));
  for (const id of photoIds) {
    const photo = await services.api.photo(id);
    if (photo.label === null) continue;
    per[photo.predictedLabel!]!.reviewed++;
    if (photo.predictedLabel === photo.label) per[photo.predictedLabel!]!.agreed++;
  }
  return per;
}

test(
  'the model card leads with agreement on the catalog’s reviewed photos, counted, per category, with intervals',
  { skip, timeout: 180_000 },
  async () => {
    const labeled = 60;
    const { services, ids } = await predictedCatalog('card-agreement', labeled);
    const ui = await openRenderer(services);
    try {
      const per = await agreementFromTiles(services, ids);
      const agreed = per.reduce((t, c) => t + c.agreed, 0);
      assert.equal(
        per.reduce((t, c) => t + c.reviewed, 0),
        labeled,
      );
      // The shipped model is good but not perfect on these photos: the count is a measurement, not a formality.
      assert.ok(agreed > labeled / 2 && agreed < labeled, `${agreed} of ${labeled}`);
      const { page } = ui;
      await page.setViewportSize({ width: 1280, height: 900 });
      await ui.menu('show-model');
      const headline = page.getByTestId('agreement');
      await headline.waitFor();
      assert.equal(
        (await headline.textContent())!.replace(/\s+/g, ' ').trim(),
        `Agrees with reviewers on ${agreed} of ${labeled} reviewed photos (${share(agreed, labeled)})`,
      );
      for (const [k, c] of per.entries()) {
        assert.equal(
          await page.getByTestId(`agreement-${k}`).textContent(),
          c.reviewed ? `${c.agreed} of ${c.reviewed} (${share(c.agreed, c.reviewed)})` : '—',
        );
      }
      // Fashion-MNIST comes second, and the shipped model's own training under it.
      const card = readModelCard(defaultModelDir())!;
      assert.equal(await page.getByTestId('test-accuracy').textContent(), `${(100 * card.accuracy).toFixed(1)}%`);
      // On as many test photos as its card's evaluation holds (10,000 for the shipped model).
      const tested = card.perClass.reduce((n, c) => n + c.support, 0);
      assert.equal(tested, 10_000);
      await page.getByText(`correct on the ${tested.toLocaleString('en-US')} Fashion-MNIST test photos`).waitFor();
      assert.match(
        (await page.getByTestId('training').textContent())!,
        new RegExp(`over ${card.training.history.length} epochs`),
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'model-agreement.png'), fullPage: true });
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui.close();
      await services.close();
    }
  },
);

test(
  'a fine-tuned version shows its own training, each long phase reports a bar’s progress, and Improve waits for new reviews',
  { skip, timeout: 600_000 },
  async () => {
    const labeled = MIN_LABELS + 10;
    const { services, ids, catalogFile } = await predictedCatalog('card-finetuned', labeled, {
      ...DEFAULT_FINETUNE_OPTIONS,
      epochs: 2,
      minSteps: 0,
      patience: 5,
    });
    const updates: ImproveStatus[] = [];
    services.onJobUpdate((u: JobUpdate) => void (u.kind === 'improve' && updates.push(u.status)));
    /** Resolves with the improve job's last status once it has ended. */
    const ended = () =>
      new Promise<ImproveStatus>((resolve) => {
        const stop = services.onJobUpdate((u) => {
          if (u.kind === 'improve' && !u.status.running) {
            stop();
            resolve(u.status);
          }
        });
      });
    let ui: Awaited<ReturnType<typeof openRenderer>> | undefined;
    try {
      assert.deepEqual(await services.api.improveRequirements(), { minimumLabels: MIN_LABELS, lastVersion: null });
      let done = ended();
      await services.api.improveModel();
      const ready = await done;
      assert.equal(ready.phase, 'ready', ready.problem ?? '');
      // Fine-tuning and comparing each pushed a bar's progress, with the time left once the pace was known.
      for (const phase of ['fine-tuning', 'comparing'] as const) {
        const bars = updates.filter((u) => u.phase === phase && u.progress);
        assert.ok(bars.length >= 2, `${bars.length} progress updates while ${phase}`);
        assert.ok(
          bars.every((u) => u.progress!.done <= u.progress!.total && u.progress!.total > 0),
          JSON.stringify(bars.map((u) => u.progress)),
        );
        assert.ok(
          bars.some((u) => u.etaSeconds !== null && u.etaSeconds > 0),
          `an estimate while ${phase}`,
        );
      }
      const candidate = ready.candidate!;
      done = ended();
      await services.api.activateModel(candidate.modelId);
      const activated = await done;
      assert.equal(activated.phase, 'activated');
      // Re-predicting's bar counted the unreviewed photos (one page here: its last count is in the final status).
      assert.deepEqual(activated.progress, { done: PHOTOS - labeled, total: PHOTOS - labeled });

      // What fine-tuning stored with the version: its own epochs, not the parent's.
      const versions = await services.api.modelVersions();
      const tuned = versions.find((v) => v.id === candidate.modelId)!;
      const catalog = new Catalog(catalogFile);
      const card = readModelCard(catalog.models.activeModel()!.dir)!;
      catalog.close();
      assert.equal(card.name, tuned.name);
      const epochs = card.fineTune!.history.length;
      assert.ok(epochs >= 1 && epochs <= 2, `${epochs} epochs`);
      assert.notEqual(epochs, card.training.history.length, "the parent's run had more epochs");

      // The same labels again: Improve is refused, and the window says why.
      const last = { name: tuned.name, newReviews: 0, active: true };
      assert.deepEqual((await services.api.improveRequirements()).lastVersion, last);
      await assert.rejects(services.api.improveModel(), { message: noNewReviews(tuned.name) });

      ui = await openRenderer(services);
      const { page } = ui;
      await page.setViewportSize({ width: 1280, height: 900 });
      await ui.menu('show-model');
      await page.getByRole('heading', { name: `Model ${tuned.name}`, exact: true }).waitFor();
      const training = (await page.getByTestId('training').textContent())!;
      assert.match(
        training,
        new RegExp(
          `^Fine-tuned from ${candidate.parentName} on ${labeled} of your reviewed photos \\(${labeled - candidate.heldOut.count - candidate.validation.count} trained on, the others kept to check it\\) with \\d+ Fashion-MNIST replay images: ${epochs} epochs \\(best ${card.fineTune!.bestEpoch}\\) in (\\d+ min )?\\d+ s$`,
        ),
      );
      assert.equal(await page.getByRole('heading', { name: 'Fine-tuning', exact: true }).count(), 1);
      // No photo reviewed since it was trained: no agreement to claim; its held-out photos say how it did.
      assert.match(
        (await page.getByTestId('agreement').textContent())!,
        /No photos reviewed since this version was trained/,
      );
      const heldOut = card.fineTune!.yourPhotos!.heldOut;
      const right = Math.round(heldOut.accuracy * heldOut.count);
      assert.match(
        (await page.getByTestId('held-out').textContent())!,
        new RegExp(
          `On the ${heldOut.count} reviewed photos held out of its training: ${right} right \\(${share(right, heldOut.count)}\\)`,
        ),
      );
      const improve = page.getByRole('button', { name: 'Improve model' });
      assert.equal(await improve.isDisabled(), true);
      assert.equal(await page.getByTestId('improve-offer').textContent(), noNewReviews(tuned.name));
      await page.screenshot({ path: path.join(ARTIFACTS, 'model-fine-tuned.png'), fullPage: true });

      // One more review (of a photo the new version predicted): Improve is offered, and the headline counts it.
      const next = ids[labeled]!;
      await services.api.setLabels([{ photoId: next, label: testSet.labels[labeled]! }]);
      const photo = await services.api.photo(next);
      await page.reload();
      await ui.menu('show-model');
      await page.getByText(`1 reviewed since version ${tuned.name}`).waitFor();
      assert.equal(await improve.isEnabled(), true);
      const agree = photo.predictedLabel === photo.label ? 1 : 0;
      assert.equal(
        (await page.getByTestId('agreement').textContent())!.replace(/\s+/g, ' ').trim(),
        `Agrees with reviewers on ${agree} of 1 reviewed photos it did not learn from (${share(agree, 1)})`,
      );
      // Undone (back to unreviewed), that review is no new review: Improve is refused again.
      await services.api.setLabels([{ photoId: next, label: null }]);
      assert.deepEqual((await services.api.improveRequirements()).lastVersion, last);
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui?.close();
      await services.close();
    }
  },
);
