/** The ten Fashion-MNIST categories, by id (the same order as the model's outputs). */
export const CATEGORIES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/** The same, short enough for a column heading and still a word. */
export const SHORT_CATEGORIES = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'] as const;

/** The group every Fashion-MNIST model confuses; the UI marks it. */
export const HARD_GROUP = new Set([0, 2, 4, 6]);

export const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
