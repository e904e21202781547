// The e2e project's default timeout, for tests and hooks alike: starting or stopping a bank of
// real processes (a SIGTERM drain, databases dropped) can outlast jest's 5 s hook default on a
// loaded machine, and a project's testTimeout does not reach the hooks.
jest.setTimeout(120_000);
