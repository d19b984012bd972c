export { ASPP, ASPP_RATES } from './heads/aspp.ts';
export { Classifier1x1 } from './heads/classifier.ts';
export { DINOHead, type DINOHeadOptions } from './heads/dino-head.ts';
