import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadWindowState, saveWindowState } from '../electron/windowState.ts';
import { tempDir } from './helpers/photos.ts';

const screen = { x: 0, y: 0, width: 1920, height: 1080 };

test('the window comes back where it was, unless that place is no longer on a screen', () => {
  const file = path.join(tempDir('window'), 'window-state.json');
  assert.equal(loadWindowState(file, [screen]), undefined, 'first run');
  const state = { x: 100, y: 50, width: 1200, height: 800, maximized: false };
  saveWindowState(file, state);
  assert.deepEqual(loadWindowState(file, [screen]), state);
  // The second monitor it was on is gone.
  saveWindowState(file, { ...state, x: 2500 });
  assert.equal(loadWindowState(file, [screen]), undefined);
  assert.deepEqual(loadWindowState(file, [screen, { x: 1920, y: 0, width: 2560, height: 1440 }])?.x, 2500);
  fs.writeFileSync(file, '{"x": "garbage"');
  assert.equal(loadWindowState(file, [screen]), undefined, 'a damaged file is ignored');
});
