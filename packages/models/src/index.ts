export { ConfusionMatrix, type Scores } from './metrics.ts';
