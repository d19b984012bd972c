// Class names for a model's class count: VOC's 20 and COCO's 80 by name, anything else by number.
import { COCO_CLASSES, VOC_CLASSES } from '@seco/data/web';

/** Names of classes 0..numClasses (0 is background). */
export function classNames(numClasses: number): string[] {
  const fg = numClasses === VOC_CLASSES.length ? VOC_CLASSES : numClasses === COCO_CLASSES.length ? COCO_CLASSES : Array.from({ length: numClasses }, (_, i) => `class ${i + 1}`);
  return ['background', ...fg];
}
