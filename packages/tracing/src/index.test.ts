import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Tracing off is the default and must cost nothing: the SDK is not even loaded. Checked in a
// process of its own (jest's module registry is not Node's), against the build output.

const DIST = path.resolve(__dirname, '..', 'dist', 'index.js');

function sdkLoadedWith(env: Record<string, string>): { enabled: boolean; sdkLoaded: boolean } {
  const script = `const t = require(${JSON.stringify(DIST)}).startTracing('test-service', ${JSON.stringify(env)});
    const sdkLoaded = Object.keys(require.cache).some((f) => f.includes('sdk-node'));
    t.shutdown().then(() => process.stdout.write(JSON.stringify({ enabled: t.enabled, sdkLoaded })));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { enabled: boolean; sdkLoaded: boolean };
}

it('stays off, without loading the SDK, unless an OTLP endpoint is configured', () => {
  expect(sdkLoadedWith({})).toEqual({ enabled: false, sdkLoaded: false });
  expect(sdkLoadedWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' })).toEqual({ enabled: false, sdkLoaded: false });
  // And on when it is: the same probe sees the SDK then.
  expect(sdkLoadedWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' })).toEqual({ enabled: true, sdkLoaded: true });
});
