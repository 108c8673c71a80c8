export {};
// Imported first by every entry point: chunk hits are file-system bound (open, read, close per request), and
// libuv's default of 4 threads leaves the event loop idle while requests queue for them.
process.env.UV_THREADPOOL_SIZE ??= '16';
