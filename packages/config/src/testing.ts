export { makeThrowawayCa } from './throwaway-ca.js';
export type { ThrowawayCa } from './throwaway-ca.js';
export { freePort } from './free-port.js';
