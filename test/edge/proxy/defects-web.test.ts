// The defects suite again, with the proxy served by @hono/node-server around Proxy.fetch (the
// Request/Response path Workers, Deno and Bun take) instead of the Node listener: both must
// answer every case alike.
process.env.SEALBOX_TEST_PROXY_ADAPTER = 'web';
await import('./defects.test.js');
