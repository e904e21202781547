/**
 * Limits that more than one service enforces on the same field, and the public API documents:
 * one home, so that the gateway's schemas and each service's checks cannot drift apart.
 */

/** Every list the bank serves: `?limit=` defaults to this... */
export const LIST_DEFAULT_LIMIT = 20;
/** ...and cannot ask for more than this. */
export const LIST_MAX_LIMIT = 100;
/** A page cursor longer than this is refused unread (the stores' own are a few dozen characters). */
export const MAX_CURSOR_LENGTH = 100;
/** RFC 5321's longest forward path, less its angle brackets. */
export const EMAIL_MAX_LENGTH = 254;
/** A person's name as signup takes it and the profile keeps it (characters, after trimming). */
export const FULL_NAME_MAX_LENGTH = 100;
