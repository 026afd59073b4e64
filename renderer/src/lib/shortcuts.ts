/** Where typing, choosing or a dialog's own keys happen: a key there is never a shortcut. */
const OWN_KEYS =
  'input, select, textarea, [contenteditable]:not([contenteditable="false"]), [role="dialog"], [role="alertdialog"], [role="menu"], [role="menubar"], [role="listbox"], [role="combobox"], [role="slider"]';

/**
 * Whether a keydown is free to act as an app-wide shortcut: false while a modal dialog is open, when focus is
 * in a text field, select, slider, menu or dialog (Enter there is the dialog's button, a digit is typed), with Alt
 * (the menu's accelerators), during IME composition, or when a handler already took the key.
 */
export function isShortcut(event: KeyboardEvent): boolean {
  if (event.defaultPrevented || event.altKey || event.isComposing) return false;
  if (event.target instanceof Element && event.target.closest(OWN_KEYS)) return false;
  return document.querySelector('[aria-modal="true"]') === null;
}
