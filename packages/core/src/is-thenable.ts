// One copy for every package, in @lac/shared (bundled into core's build).
export { isThenable } from '@lac/shared';
