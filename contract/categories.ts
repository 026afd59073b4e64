/** The ten Fashion-MNIST categories, by id (the order of the model's outputs and of the dataset's labels). */
export const CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;
export const NUM_CLASSES = CLASS_NAMES.length;

/** The categories every Fashion-MNIST model confuses with each other: T-shirt/top, Pullover, Coat, Shirt. */
export const HARD_GROUP: readonly number[] = [0, 2, 4, 6];
