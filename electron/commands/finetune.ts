import { CLASS_NAMES } from '../../contract/categories.ts';
import { defaultCatalogFile } from '../appPaths.ts';
import type { Candidate } from '../learning/improveModel.ts';
import { DEFAULT_FINETUNE_OPTIONS } from '../ml/fineTune.ts';
import {
  duration,
  existingCatalog,
  intOption,
  pathOption,
  waitingForCatalog,
  withServices,
  type Values,
} from './args.ts';
import { plural } from '../../contract/plural.ts';
import { noNewReviews } from '../../contract/api.ts';

const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(2)}%`);

function printComparison(c: Candidate): void {
  const { heldOut, validation, replay, testSet, changes } = c.comparison;
  console.log(
    `fine-tuned ${c.model.name} from ${c.parent.name} on ${c.fineTune.labels} reviewed photos: ${plural(c.fineTune.epochs.length, 'epoch')} (best ${c.fineTune.bestEpoch}) in ${duration(c.fineTune.seconds)} on ${c.fineTune.backend}`,
  );
  const { photos, copies, replay: replayed, stepsPerEpoch } = c.fineTune.trainedOn;
  console.log(
    `each epoch trained on ${photos} of them${copies > 1 ? `, each ${copies} times,` : ''} beside ${plural(replayed, 'Fashion-MNIST image')}, in ${plural(stepsPerEpoch, 'step')}; the others are held out or validate`,
  );
  console.log(`${''.padEnd(34)}${'current'.padStart(10)}${'new'.padStart(10)}`);
  const row = (label: string, current: number, candidate: number) =>
    console.log(`${label.padEnd(34)}${pct(current).padStart(10)}${pct(candidate).padStart(10)}`);
  row(`held-out: ${heldOut.count} of your photos`, heldOut.current.accuracy, heldOut.candidate.accuracy);
  row(`validation: ${validation.count} of your photos`, validation.current.accuracy, validation.candidate.accuracy);
  if (replay.accuracy !== null)
    console.log(
      `${`replay: ${replay.count} Fashion-MNIST`.padEnd(34)}${''.padStart(10)}${pct(replay.accuracy).padStart(10)}  (forgetting check)`,
    );
  row(`Fashion-MNIST test set (${testSet.count})`, testSet.current.accuracy, testSet.candidate.accuracy);
  // The epoch lines above measured the weights as trained; these, both versions as the app classifies.
  console.log(
    "(as the app classifies: 'new' is the saved version, part of the old weights mixed back, with its prototypes and mirrored unsure photos; the epoch lines measured the weights as trained)",
  );
  console.log('test-set F1 per category:');
  CLASS_NAMES.forEach((name, k) =>
    console.log(
      `  ${name.padEnd(32)}${testSet.current.f1[k]!.toFixed(3).padStart(10)}${testSet.candidate.f1[k]!.toFixed(3).padStart(10)}`,
    ),
  );
  if (c.fineTune.categoriesWithoutLabels.length > 0) {
    console.log(
      `no reviewed photos of ${c.fineTune.categoriesWithoutLabels.map((k) => CLASS_NAMES[k]).join(', ')}: the new version only keeps what it knew of them (Fashion-MNIST replay)`,
    );
  }
  console.log(`catalog: ${changes.changed} of ${changes.photos} unreviewed photos would change category`);
  for (const [from, row] of changes.matrix.entries()) {
    for (const [to, n] of row.entries())
      if (from !== to && n > 0) console.log(`  ${CLASS_NAMES[from]} → ${CLASS_NAMES[to]}: ${n}`);
  }
}

/**
 * `finetune --db FILE`: learn from the catalog's human labels; publish, compare and optionally activate. Every
 * write waits for a catalog another program is writing to (saying so), and the first is tried before training.
 */
export async function runFinetune(values: Values): Promise<void> {
  // Fine-tuning learns from a catalog's reviews: it never makes an empty one.
  const dbFile = existingCatalog(pathOption(values, 'db') ?? defaultCatalogFile());
  const fineTune = {
    ...DEFAULT_FINETUNE_OPTIONS,
    // --epochs N is the most it runs (the steps of N passes over the photos and the replay once each; the photos'
    // copies make fewer, longer epochs): no steps are added to reach the default minimum.
    ...(values.epochs === undefined
      ? {}
      : { epochs: intOption(values, 'epochs', DEFAULT_FINETUNE_OPTIONS.epochs), minSteps: 0 }),
  };
  const cancel = new AbortController();
  const onSigint = () => cancel.abort();
  process.once('SIGINT', onSigint);
  try {
    await withServices(
      dbFile,
      { modelsDir: pathOption(values, 'models'), dataDir: pathOption(values, 'data'), fineTune, signal: cancel.signal },
      async ({ api, operations }) => {
        // As the window's Improve model: the same reviews would train the same version again.
        const { lastVersion } = await api.improveRequirements();
        if (lastVersion?.newReviews === 0) throw new Error(noNewReviews(lastVersion.name, lastVersion.active));
        let lastLine = 0;
        const candidate = await operations.improve({
          signal: cancel.signal,
          catalogWait: waitingForCatalog(dbFile),
          onPhase: (phase) => console.error(`${phase}…`),
          onEpoch: (r, counts) =>
            console.error(
              `epoch ${r.epoch}: loss ${r.trainLoss.toFixed(3)}, validation accuracy (weights as trained) ${pct(r.validationAccuracy)} on ${counts.validation} of your photos, Fashion-MNIST replay ${pct(r.guardAccuracy ?? 0)} of ${counts.replay} (${duration(r.seconds)})`,
            ),
          onProgress: (p) => {
            if (performance.now() - lastLine < 5000) return;
            lastLine = performance.now();
            console.error(
              `  epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ETA ${duration(p.etaSeconds)}`,
            );
          },
        });
        const activation = values.activate
          ? await operations.activate(candidate.model.id, {
              signal: cancel.signal,
              catalogWait: waitingForCatalog(dbFile),
            })
          : undefined;
        const { heldOut } = candidate.comparison;
        if (activation && heldOut.candidate.accuracy < heldOut.current.accuracy)
          console.error(
            `warning: ${candidate.model.name} is behind ${candidate.parent.name} on your held-out photos (${pct(heldOut.candidate.accuracy)} against ${pct(heldOut.current.accuracy)}, ${plural(heldOut.count, 'photo')}), and was activated as --activate asked; \`models --db ${dbFile} --activate ${candidate.parent.name}\` goes back`,
          );
        if (values.json) console.log(JSON.stringify({ ...candidate, activated: activation ?? null }, null, 1));
        else {
          printComparison(candidate);
          console.log(
            activation
              ? `activated ${candidate.model.name}; re-predicted ${plural(activation.repredicted, 'photo')} (${activation.status})`
              : `saved ${candidate.model.dir} (not active; \`models --db ${dbFile} --activate ${candidate.model.name}\` activates it, as the window's Activate does)`,
          );
        }
      },
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
}
