export {};
// libuv's thread pool runs the gateway's file reads (image reads from chunk files, the rest of a large chunk hit)
// and the fetchers' volume writes; its default of 4 threads leaves the event loop idle while they queue. libuv
// reads the size when the pool first starts, so the gateway's and the stack's entry points import this first.
process.env.UV_THREADPOOL_SIZE ??= '16';
