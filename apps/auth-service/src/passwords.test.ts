import { passwordProblem, PASSWORD_MAX_BYTES } from './passwords';

describe('password policy', () => {
  it.each([
    ['short', 'must be 10 to 72 bytes'],
    ['a'.repeat(PASSWORD_MAX_BYTES + 1), 'must be 10 to 72 bytes'],
    // 24 characters but 96 bytes: bcrypt would silently drop the end, so it is refused.
    ['🔑'.repeat(24), 'must be 10 to 72 bytes'],
    ['Password123', 'is one of the most common passwords'],
    ['QWERTYUIOP', 'is one of the most common passwords'],
  ])('refuses %j: %s', (password, problem) => {
    expect(passwordProblem(password)).toBe(problem);
  });

  it.each(['correct horse battery', 'a'.repeat(PASSWORD_MAX_BYTES), 'ünïcödé-pässwörd'])('accepts %j', (password) => {
    expect(passwordProblem(password)).toBeUndefined();
  });
});
