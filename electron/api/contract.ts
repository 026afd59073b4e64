/**
 * The one API contract between the renderer and the main process. The preload bridge exposes it as
 * `window.api`, the IPC handlers implement it, and the tests call it; every channel name and payload
 * type lives here.
 */

export interface ClassScore {
  name: string;
  f1: number;
}

export interface ModelSummary {
  name: string;
  /** Accuracy on the 10,000 Fashion-MNIST test images, from the model card. */
  testAccuracy: number;
  perClass: ClassScore[];
  parameters: number;
  trainedAt: string;
}

export interface AppInfo {
  version: string;
  model: ModelSummary | null;
  /** Why no model could be read, when `model` is null. */
  modelProblem: string | null;
}

export interface FashionSorterApi {
  appInfo(): Promise<AppInfo>;
}

/** IPC channel per API method. */
export const CHANNELS = {
  appInfo: 'app:info',
} as const satisfies Record<keyof FashionSorterApi, string>;
