/** The Theme setting: follow the system's light or dark theme, or pin one. */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'fashion-sorter.theme';
const CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

/**
 * The chosen theme, kept in localStorage and applied as `data-theme` on <html> (app.css's tokens read it;
 * 'system' removes it, so prefers-color-scheme decides).
 */
class Theme {
  #choice = $state<ThemeChoice>('system');

  constructor() {
    const saved = localStorage.getItem(KEY);
    this.choice = CHOICES.includes(saved as ThemeChoice) ? (saved as ThemeChoice) : 'system';
  }

  get choice(): ThemeChoice {
    return this.#choice;
  }

  set choice(next: ThemeChoice) {
    this.#choice = next;
    localStorage.setItem(KEY, next);
    if (next === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
  }
}

export const theme = new Theme();
