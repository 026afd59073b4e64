import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { _electron as electron } from 'playwright-core';
import { projectRoot } from '../electron/appPaths.ts';

/** The Electron binary, if this machine has it: Electron ≥ 42 fetches it on first run, which fails offline. */
function electronBinary(): string | undefined {
  const dir = path.join(projectRoot, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!fs.existsSync(pathFile)) return undefined;
  const binary = path.join(dir, 'dist', fs.readFileSync(pathFile, 'utf8'));
  return fs.existsSync(binary) ? binary : undefined;
}

const binary = electronBinary();
const skip =
  !binary &&
  'the Electron binary is not on this machine (Electron ≥ 42 fetches it on the first `npm start`, which needs the network); test/builtApp.test.ts runs the built shell in plain Node with a stand-in for Electron instead';

test(
  'the packaged shell opens one sandboxed, context-isolated window that shows the model',
  { skip, timeout: 300_000 },
  async () => {
    execFileSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'ignore' });
    const app = await electron.launch({
      executablePath: binary!,
      args: [projectRoot],
      env: { ...process.env, ELECTRON_DISABLE_SECURITY_WARNINGS: 'false' },
    });
    try {
      const page = await app.firstWindow();
      await page.getByRole('tab', { name: 'Model' }).click();
      await page.getByRole('heading', { name: /^Model / }).waitFor();
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        const wc = BrowserWindow.getAllWindows()[0]!.webContents;
        return {
          url: wc.getURL(),
          prefs: (wc as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences(),
        };
      });
      assert.match(prefs.url, /^app:\/\/renderer\//);
      assert.equal(prefs.prefs.contextIsolation, true);
      assert.equal(prefs.prefs.sandbox, true);
      assert.equal(prefs.prefs.nodeIntegration, false);
      assert.equal(
        await page.evaluate(() => typeof (globalThis as unknown as { require?: unknown }).require),
        'undefined',
      );
    } finally {
      await app.close();
    }
  },
);
