/** The categories (contract/categories.ts) short enough for a column heading and still a word. */
export const SHORT_CATEGORIES = [
  'T-shirt',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Boot',
] as const;

export const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
