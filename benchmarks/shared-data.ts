// The shared data folder (real VOC/COCO samples) beside the repository, or SECO_SHARED_DATA.
import { fileURLToPath } from 'node:url';

export const sharedDataDir = (): string => process.env.SECO_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data/', import.meta.url));
