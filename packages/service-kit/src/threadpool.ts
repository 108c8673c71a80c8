export {};
// Imported first by the gateway's and the stack's entry points: chunk hits are file-system bound (open, read, close per
// request), and libuv's default of 4 threads leaves the event loop idle while requests queue for them.
// Not read through @larder/config's environment: it is Node's variable, written (not read) before anything else loads.
// Caution: on Node 20 the ES module loader has already started libuv's pool when this runs, so only
// UV_THREADPOOL_SIZE set in the process's environment takes effect.
process.env.UV_THREADPOOL_SIZE ??= '16';
