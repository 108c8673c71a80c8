export { startStack } from './start-stack.js';
export type { Stack, StackOptions } from './start-stack.js';
export { seedDemo, DEMO_IMAGE } from './seed-demo.js';
export { makeDemoImage } from './demo-image.js';
