export { ASPP, ASPP_RATES } from './heads/aspp.ts';
export { Classifier1x1 } from './heads/classifier.ts';
export { Conv2d, conv2dStride1, type ConvOptions } from './heads/conv.ts';
export { DINOHead, type DINOHeadOptions } from './heads/dino-head.ts';
