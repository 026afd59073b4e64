import fs from 'node:fs';
import path from 'node:path';
import { defaultModelDir, projectRoot } from '../appPaths.ts';
import { readModelCard } from '../ml/modelCard.ts';
import type { AppInfo, FashionSorterApi } from './contract.ts';

/** Reads the shipped model's card into the summary the UI shows. */
export function appInfo(modelDir = defaultModelDir()): AppInfo {
  const version = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version as string;
  try {
    const card = readModelCard(modelDir);
    if (!card) return { version, model: null, modelProblem: `no model card at ${modelDir}` };
    return {
      version,
      modelProblem: null,
      model: {
        name: card.name,
        testAccuracy: card.accuracy,
        perClass: card.perClass.map((c) => ({ name: c.name, f1: c.f1 })),
        parameters: card.parameters,
        trainedAt: card.createdAt,
      },
    };
  } catch (err) {
    return { version, model: null, modelProblem: `the model card at ${modelDir} cannot be read: ${(err as Error).message}` };
  }
}

/** The services behind the API, free of Electron: the IPC handlers and the browser tests both call these. */
export function createServices(options: { modelDir?: string } = {}): FashionSorterApi {
  return {
    appInfo: async () => appInfo(options.modelDir),
  };
}
