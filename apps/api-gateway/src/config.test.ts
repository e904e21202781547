import { loadConfig, KNOWN_ENV_VARS } from '@bank/platform';
import { configProblems } from '@bank/testkit';
import { peerAddresses, schema } from './config';

const BANK_TLS_DIR = '/etc/bank/tls';

const problems = (env: NodeJS.ProcessEnv): string[] => configProblems(schema, env);

describe('api-gateway configuration', () => {
  it('has a default for everything but the service token', () => {
    const config = loadConfig(schema, { BANK_TLS_DIR }, KNOWN_ENV_VARS);
    expect(config.GATEWAY_PORT).toBe(8080);
    expect(peerAddresses(config)).toEqual({
      auth: '127.0.0.1:50051',
      user: '127.0.0.1:50052',
      ledger: '127.0.0.1:50053',
      payment: '127.0.0.1:50054',
    });
  });

  it('only reads variables the bank knows', () => {
    for (const name of Object.keys(schema)) expect(KNOWN_ENV_VARS).toContain(name);
  });

  it.each(['ledger.internal:50053', '10.1.2.3:1', '[::1]:50053', 'localhost:65535'])('accepts the peer address %s', (addr) => {
    expect(problems({ BANK_TLS_DIR, LEDGER_GRPC_ADDR: addr })).toEqual([]);
  });

  it.each(['ledger.internal', 'http://ledger:50053', 'ledger:0', 'ledger:70000', ':50053', 'ledger:50053/x', 'led ger:1'])('refuses the peer address %s', (addr) => {
    expect(problems({ BANK_TLS_DIR, LEDGER_GRPC_ADDR: addr })).toEqual([
      `LEDGER_GRPC_ADDR: must be host:port with a port between 1 and 65535 (got ${JSON.stringify(addr)})`,
    ]);
  });
});
