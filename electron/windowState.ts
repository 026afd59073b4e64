/**
 * The window's size, position and maximized state, kept between runs in a small JSON file. A saved
 * position is only reused if it is still on one of the screens (a monitor may have been unplugged).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { makePrivateDir } from './appPaths.ts';

const stateSchema = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int().min(400).max(20_000),
  height: z.number().int().min(300).max(20_000),
  maximized: z.boolean(),
});
export type WindowState = z.infer<typeof stateSchema>;

export interface Rectangle {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_SIZE = { width: 1280, height: 820 };

/** The saved state if it is readable and at least half of the window lies on one of `screens`. */
export function loadWindowState(file: string, screens: Rectangle[]): WindowState | undefined {
  let state: WindowState;
  try {
    state = stateSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return undefined; // first run, or a damaged file: start with the default size
  }
  const visible = screens.some((s) => {
    const overlapW = Math.min(state.x + state.width, s.x + s.width) - Math.max(state.x, s.x);
    const overlapH = Math.min(state.y + state.height, s.y + s.height) - Math.max(state.y, s.y);
    return overlapW > 0 && overlapH > 0 && overlapW * overlapH >= (state.width * state.height) / 2;
  });
  return visible ? state : undefined;
}

export function saveWindowState(file: string, state: WindowState): void {
  makePrivateDir(path.dirname(file));
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}
