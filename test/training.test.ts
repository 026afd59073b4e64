import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { IMAGE_SIZE, loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { oneCycleLearningRate, splitTrainValidation, Trainer, DEFAULT_TRAIN_OPTIONS } from '../electron/ml/train.ts';
import { cli } from './helpers/cli.ts';
import { initBackend } from '../electron/ml/backend.ts';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  buildModel,
  DEFAULT_ARCHITECTURE,
  fullResolutionLayers,
  multiplyAddsPerImage,
  type ArchitectureSpec,
} from '../electron/ml/model.ts';
import { DEFAULT_FINETUNE_OPTIONS, fineTune } from '../electron/ml/fineTune.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { readArchitecture, readWeights, saveModel } from '../electron/ml/modelFiles.ts';
import { NUM_CLASSES } from '../contract/categories.ts';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-train-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));

test('the train/validation split is seeded, disjoint and 80/20', () => {
  const a = splitTrainValidation(1000, 0.2, 7);
  const b = splitTrainValidation(1000, 0.2, 7);
  assert.deepEqual(a, b);
  assert.equal(a.validation.length, 200);
  assert.equal(a.train.length, 800);
  const all = new Set([...a.train, ...a.validation]);
  assert.equal(all.size, 1000);
  assert.notDeepEqual(splitTrainValidation(1000, 0.2, 8).validation, a.validation);
});

test('the one-cycle schedule warms up to the peak and decays to zero', () => {
  const lr = (s: number) => oneCycleLearningRate(s, 100, 0.1, 0.2);
  assert.ok(lr(0) < lr(10));
  assert.equal(lr(19), 0.1);
  assert.ok(lr(60) < lr(20));
  assert.equal(lr(100), 0);
});

test(
  'a short training run learns (far above chance on held-out images) and resumes from its checkpoint',
  { timeout: 600_000 },
  async () => {
    const data = await loadFashionMnist({ allowDownload: false });
    const options = {
      ...DEFAULT_TRAIN_OPTIONS,
      epochs: 1,
      limit: 2500,
      batchSize: 64,
      workers: 2,
      architecture: { ...DEFAULT_TRAIN_OPTIONS.architecture, width: 8 },
    };
    const first = await new Trainer(data.train, out, options).run(false);
    assert.equal(first.history.length, 1);
    const checkpointDir = path.join(out, 'checkpoint');
    const checkpoint = () =>
      JSON.parse(fs.readFileSync(path.join(checkpointDir, 'state.json'), 'utf8')) as {
        completedEpochs: number;
        files?: { weights: string };
      };
    const checkpointWeights = () =>
      fs.readFileSync(path.join(checkpointDir, checkpoint().files?.weights ?? 'weights.bin'));
    const epochOneWeights = checkpointWeights();

    // A crash while epoch 2's checkpoint is written (its weights saved, its optimizer state not) leaves epoch 1's
    // checkpoint whole: a folder in the way of the optimizer file's temporary makes that write fail.
    const blocker = path.join(checkpointDir, `optimizer-2.bin.${process.pid}.tmp`);
    fs.mkdirSync(blocker);
    await assert.rejects(new Trainer(data.train, out, { ...options, epochs: 3 }).run(true));
    fs.rmdirSync(blocker);
    // What a killed trainer (a process that is gone) left half-written goes with the next checkpoint.
    const leftByDeadProcess = path.join(checkpointDir, 'weights-2.bin.2147483646.tmp');
    fs.writeFileSync(leftByDeadProcess, 'half');
    assert.equal(checkpoint().completedEpochs, 1);
    assert.ok(checkpointWeights().equals(epochOneWeights), "epoch 1's checkpoint must keep epoch 1's weights");

    // Resuming with a longer schedule continues from epoch 1 instead of starting over.
    const resumed = await new Trainer(data.train, out, { ...options, epochs: 3 }).run(true);
    assert.equal(resumed.resumedFromEpoch, 1);
    assert.equal(resumed.history.length, 3);
    assert.deepEqual(resumed.history[0], first.history[0]);
    const final = resumed.history.at(-1)!;
    assert.equal(resumed.validationCount, 500);
    assert.ok(
      final.validationAccuracy! > 0.5,
      `validation accuracy ${final.validationAccuracy} should be far above chance (0.1)`,
    );
    assert.ok(final.trainLoss < resumed.history[0]!.trainLoss, 'training loss should fall');
    assert.deepEqual(fs.readdirSync(checkpointDir).sort(), ['optimizer-3.bin', 'state.json', 'weights-3.bin']);
    // Each stretch that finished an epoch is kept (the failed one finished none), with its wall and CPU time.
    assert.deepEqual(
      resumed.stretches.map((s) => [s.fromEpoch, s.toEpoch]),
      [
        [0, 1],
        [1, 3],
      ],
    );
    assert.equal(resumed.stretches[0]!.seconds, first.trainSeconds);
    const total = resumed.stretches.reduce((sum, s) => sum + s.seconds, 0);
    assert.ok(Math.abs(total - resumed.trainSeconds) < 1e-6, `stretches ${total} s, run ${resumed.trainSeconds} s`);
    for (const s of resumed.stretches)
      assert.ok(
        s.cpuSeconds > 0 && s.cpuSeconds <= s.seconds * os.availableParallelism() + 1,
        `CPU ${s.cpuSeconds} s in ${s.seconds} s`,
      );
  },
);

test(
  '`train` saves the model with a card whose command trains it again from scratch, also after --resume, and continues from it with --from',
  { timeout: 600_000 },
  () => {
    const dir = path.join(out, 'cli');
    const first = cli(['train', '--epochs', '1', '--limit', '600', '--width', '8', '--workers', '1', '--out', dir]);
    assert.equal(first.code, 0, first.stderr);
    // Continued to a longer schedule: the card names the whole recipe, not the command that finished it.
    const resumed = cli(['train', '--resume', '--epochs', '2', '--workers', '1', '--out', dir]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const card = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
    assert.equal(
      card.training.command,
      'npm run cli -- train --epochs 2 --workers 1 --batch-size 128 --width 8 --limit 600',
    );
    assert.equal(card.training.resumedFromEpoch, 1);
    assert.equal(card.model, 'resnet9-mini', 'the card names the model, not the folder it was trained in');
    assert.deepEqual(
      card.training.history.map((r: { epoch: number }) => r.epoch),
      [1, 2],
    );
    assert.equal(card.count, 10_000);
    assert.ok(fs.existsSync(path.join(dir, 'model.json')) && fs.existsSync(path.join(dir, 'weights.bin')));

    // Continued from that model with the real-input augmentations: on its own split (600 images, 120 validation),
    // its architecture, and a card that records the augmentations and the command with --from.
    const continued = path.join(out, 'continued');
    const run = cli([
      'train',
      '--from',
      dir,
      '--epochs',
      '1',
      '--limit',
      '200',
      '--lr',
      '0.01',
      '--augment',
      'tone=1,edge=0.5',
      '--workers',
      '1',
      '--out',
      continued,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const next = JSON.parse(fs.readFileSync(path.join(continued, 'metrics.json'), 'utf8'));
    assert.deepEqual([next.training.trainCount, next.training.validationCount], [200, 120]);
    assert.equal(next.training.options.architecture.width, 8);
    assert.deepEqual(next.training.options.augment, {
      shift: 2,
      flip: 0.5,
      erase: 0.3,
      scale: 0,
      tone: 1,
      edge: 0.5,
      residue: 0,
      pair: 0,
    });
    assert.equal(next.training.from, dir);
    assert.equal(
      next.training.command,
      `npm run cli -- train --epochs 1 --workers 1 --batch-size 128 --width 8 --limit 200 --lr 0.01 --augment tone=1,edge=0.5 --from ${dir}`,
    );
    assert.equal(
      cli(['train', '--from', dir, '--resume', '--out', continued]).code,
      2,
      '--from with --resume is a usage error',
    );

    // On every training image (none kept to validate): the card says so, its epochs have no validation figures,
    // and the novelty threshold is still fitted (on training images).
    const all = path.join(out, 'all');
    const onAll = cli([
      'train',
      '--epochs',
      '1',
      '--limit',
      '300',
      '--width',
      '8',
      '--workers',
      '1',
      '--validation-fraction',
      '0',
      '--out',
      all,
    ]);
    assert.equal(onAll.code, 0, onAll.stderr);
    assert.match(onAll.stdout, /no validation images/);
    const allCard = JSON.parse(fs.readFileSync(path.join(all, 'metrics.json'), 'utf8'));
    assert.deepEqual([allCard.training.trainCount, allCard.training.validationCount], [300, 0]);
    assert.equal(allCard.training.history[0].validationAccuracy, null);
    assert.match(allCard.training.command, / --validation-fraction 0( |$)/);
    assert.ok(JSON.parse(fs.readFileSync(path.join(all, 'novelty.json'), 'utf8')).threshold > 0);
    assert.equal(cli(['train', '--validation-fraction', '1', '--out', all]).code, 2);
  },
);

test(
  'a weight average (ema) is what validation scores and the run returns, and its checkpoint resumes; depth adds blocks at 28 px',
  {
    timeout: 600_000,
  },
  async () => {
    await initBackend('wasm');
    const width24 = { ...DEFAULT_ARCHITECTURE, width: 24 };
    const [plain, deeper] = [buildModel(width24), buildModel({ ...width24, depth: [1, 1, 1] })];
    // Two 3×3 convolutions of 24 channels to 24 at 28×28.
    assert.equal(multiplyAddsPerImage(deeper) - multiplyAddsPerImage(plain), 2 * 28 * 28 * 24 * 24 * 9);
    assert.ok(deeper.getLayer('res0a_conv') && deeper.getLayer('res1a_conv') && deeper.getLayer('res2a_conv'));
    plain.dispose();
    deeper.dispose();

    const data = await loadFashionMnist({ allowDownload: false });
    const dir = path.join(out, 'ema');
    const options = {
      ...DEFAULT_TRAIN_OPTIONS,
      epochs: 1,
      limit: 1000,
      batchSize: 64,
      workers: 1,
      // A short horizon (a few steps), so that after 26 steps the average is of trained weights, not the initial ones.
      ema: 0.5,
      architecture: { ...DEFAULT_ARCHITECTURE, width: 8, depth: [1, 1, 1] as [number, number, number] },
    };
    const first = await new Trainer(data.train, dir, options).run(false);
    assert.equal(typeof first.history[0]!.rawValidationAccuracy, 'number');
    const checkpointDir = path.join(dir, 'checkpoint');
    assert.deepEqual(fs.readdirSync(checkpointDir).sort(), [
      'ema-1.bin',
      'optimizer-1.bin',
      'state.json',
      'weights-1.bin',
    ]);
    const resumed = await new Trainer(data.train, dir, { ...options, epochs: 2 }).run(true);
    assert.deepEqual(fs.readdirSync(checkpointDir).sort(), [
      'ema-2.bin',
      'optimizer-2.bin',
      'state.json',
      'weights-2.bin',
    ]);
    const last = resumed.history.at(-1)!;
    // Chance is 0.1; 0.2 on 200 validation images is far above it.
    assert.ok(last.validationAccuracy! > 0.2, `the averaged weights learned: ${last.validationAccuracy}`);
    // The run returns the average, not the weights as trained (the checkpoint's weights file).
    const trained = fs.readFileSync(path.join(checkpointDir, 'weights-2.bin'));
    const returned = Buffer.concat(resumed.weights.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength)));
    assert.ok(!trained.subarray(trained.length - returned.length).equals(returned));
    assert.ok(fs.readFileSync(path.join(checkpointDir, 'ema-2.bin')).subarray(-returned.length).equals(returned));
  },
);

test(
  'freezing the full-resolution layers keeps the stem and the 28-px block as they were and trains the layers after them',
  { timeout: 300_000 },
  async () => {
    await initBackend('wasm');
    const data = await loadFashionMnist({ allowDownload: false });
    const architecture = { ...DEFAULT_ARCHITECTURE, width: 8, depth: [1, 1, 1] as [number, number, number] };
    const model = buildModel(architecture);
    const start = model.getWeights().map((w) => w.dataSync() as Float32Array);
    // With batch norm frozen, exactly the trainable weights outside the full-resolution layers change.
    const frozenLayers = new Set(fullResolutionLayers(model).flatMap((l) => l.weights));
    const learning = new Set(
      model.trainableWeights.filter((w) => !frozenLayers.has(w)).map((w) => model.weights.indexOf(w)),
    );
    assert.deepEqual(
      fullResolutionLayers(model).map((l) => l.name),
      ['stem_conv', 'stem_bn', 'res0a_conv', 'res0a_bn', 'res0b_conv', 'res0b_bn'],
    );
    model.dispose();
    const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 64, workers: 1, architecture };
    const split = { train: Int32Array.from({ length: 320 }, (_, i) => i), validation: Int32Array.from([320, 321]) };
    const { weights } = await new Trainer(data.train, undefined, options, {
      initialWeights: start,
      split,
      freezeBatchNorm: true,
      freezeFullResolution: true,
    }).run(false);
    weights.forEach((w, i) => {
      const same = Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(start[i]!.buffer));
      assert.equal(same, !learning.has(i), `weight ${i} ${learning.has(i) ? 'trained' : 'kept'}`);
    });
  },
);

test(
  "a model's architecture is read from its model.json: a folder without a card fine-tunes as the network it is",
  { timeout: 300_000 },
  async () => {
    await initBackend('wasm');
    const narrow = { ...DEFAULT_ARCHITECTURE, width: 8 };
    const specs: ArchitectureSpec[] = [
      DEFAULT_ARCHITECTURE,
      { ...narrow, depth: [1, 1, 1] },
      { ...narrow, batchNormMomentum: 0.99, depth: [2, 0, 3] },
    ];
    const dirs = specs.map((_, i) => path.join(out, `architecture-${i}`));
    for (const [i, spec] of specs.entries()) {
      const model = buildModel(spec);
      await saveModel(model, dirs[i]!);
      model.dispose();
      assert.deepEqual(readArchitecture(dirs[i]!), spec);
    }

    // A deeper model's copy without its card (as a bench or a user may make): fine-tuning rebuilds it from
    // model.json, where it once took the default network and failed on the first mismatched weight.
    const deeper = dirs[1]!;
    assert.equal(readModelCard(deeper), undefined);
    const data = await loadFashionMnist({ allowDownload: false });
    const count = 60;
    const labeled = {
      images: data.test.images.subarray(0, count * PIXELS),
      labels: data.test.labels.subarray(0, count),
      count,
    };
    const result = await fineTune(deeper, labeled, data.train, {
      ...DEFAULT_FINETUNE_OPTIONS,
      epochs: 1,
      minSteps: 0,
      workers: 1,
      heldOutFraction: 0,
      prototypes: null,
    });
    assert.deepEqual(
      result.weights.map((w) => w.length),
      readWeights(deeper).map((w) => w.length),
    );

    // Another network's model.json is a damaged model, said so.
    const other = path.join(out, 'architecture-other');
    const input = tfl.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1] });
    const dense = tfl.layers
      .dense({ units: NUM_CLASSES })
      .apply(tfl.layers.flatten().apply(input)) as tfl.SymbolicTensor;
    await saveModel(tfl.model({ inputs: input, outputs: dense }), other);
    assert.throws(() => readArchitecture(other), /is damaged: model\.json does not describe a resnet9-mini network/);
  },
);
