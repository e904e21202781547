import { ensureTestIdentities } from './identities';

/** Jest's global setup: the tests' PKI, made (or renewed) once before any suite runs. */
export default async function setup(): Promise<void> {
  await ensureTestIdentities();
}
