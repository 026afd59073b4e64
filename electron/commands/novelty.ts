import { defaultModelDir } from '../appPaths.ts';
import { loadFashionMnist, type ImageSet } from '../dataset/fashionMnist.ts';
import { startPredictor } from '../ml/inference.ts';
import { calibrateNovelty, NOVELTY_FILE } from '../ml/novelty.ts';
import { pathOption, type Values } from './args.ts';

/** Fits and writes the novelty statistics of the model in `modelDir` (novelty.ts) in an inference worker. */
export async function writeModelNovelty(modelDir: string, train: ImageSet): Promise<void> {
  const predictor = await startPredictor(modelDir);
  try {
    const stats = await calibrateNovelty(predictor, train);
    console.log(
      `novelty: ${modelDir}/${NOVELTY_FILE}, threshold ${stats.threshold.toFixed(3)} (flags 5 % of ${stats.fitted.validation} validation images; fitted on ${stats.fitted.train} training images)`,
    );
  } finally {
    await predictor.close();
  }
}

export async function runNovelty(values: Values): Promise<void> {
  const data = await loadFashionMnist({ dataDir: pathOption(values, 'data') });
  await writeModelNovelty(pathOption(values, 'model') ?? defaultModelDir(), data.train);
}
