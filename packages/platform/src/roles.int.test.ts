import { Client } from 'pg';
import { createTestDatabase } from '@bank/testkit';
import { ensureServiceRole } from './db';

// Each service connects as its own role, owning its own database and reaching no other: what
// `bank-cli up` sets up for the local stack, against the real PostgreSQL.

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const roleOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
/** The server's maintenance database, where roles are dropped once their databases are gone. */
const maintenance = (url: string) => Object.assign(new URL(url), { pathname: '/postgres' }).toString();
const dropRole = (url: string, role: string) => withClient(maintenance(url), (c) => c.query(`DROP ROLE IF EXISTS "${role}"`));

describe('a service role per database', () => {
  it("owns its database (tables made earlier as the administrator too) and cannot even connect to another's", async () => {
    const auth = await createTestDatabase('roles_auth');
    const user = await createTestDatabase('roles_user');
    try {
      // An earlier run made auth's tables, a sequence and a function as the administrator.
      await withClient(auth.url, async (c) => {
        await c.query('CREATE TABLE signing_keys (kid text PRIMARY KEY, private_pem text NOT NULL, n bigserial)');
        await c.query("INSERT INTO signing_keys (kid, private_pem) VALUES ('k1', 'secret')");
        await c.query('CREATE SEQUENCE standalone_seq');
        await c.query('CREATE FUNCTION one() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$');
      });
      const authUrl = await ensureServiceRole(auth.url, roleOf(auth.url), 'auth-role-password');
      const userUrl = await ensureServiceRole(user.url, roleOf(user.url), 'user-role-password');
      // Again, as every start does: nothing changes, nothing fails.
      expect(await ensureServiceRole(auth.url, roleOf(auth.url), 'auth-role-password')).toBe(authUrl);
      expect(new URL(authUrl).username).toBe(roleOf(auth.url));

      await withClient(authUrl, async (c) => {
        // Its migrations can alter what it owns, and make new things.
        await c.query('ALTER TABLE signing_keys ADD COLUMN retired_at timestamptz');
        await c.query('CREATE TABLE later (id int)');
        await c.query("SELECT nextval('standalone_seq')");
        expect((await c.query('SELECT one() AS v')).rows).toEqual([{ v: 1 }]);
        expect((await c.query('SELECT current_user AS who')).rows).toEqual([{ who: roleOf(auth.url) }]);
      });

      // user-service's role cannot reach auth's database at all, so not its signing keys either.
      const intoAuth = new URL(userUrl);
      intoAuth.pathname = new URL(auth.url).pathname;
      await expect(withClient(intoAuth.toString(), (c) => c.query('SELECT private_pem FROM signing_keys'))).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied for database') });
      // Nor can a role with no grant of its own (PUBLIC's CONNECT is revoked).
      await withClient(auth.url, (c) => c.query('CREATE ROLE roles_test_outsider LOGIN').catch(() => undefined));
      const outsider = new URL(auth.url);
      outsider.username = 'roles_test_outsider';
      outsider.password = '';
      await expect(withClient(outsider.toString(), (c) => c.query('SELECT 1'))).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied for database') });
    } finally {
      await auth.drop();
      await user.drop();
      for (const role of [roleOf(auth.url), roleOf(user.url), 'roles_test_outsider']) await dropRole(auth.url, role);
    }
  });
});
