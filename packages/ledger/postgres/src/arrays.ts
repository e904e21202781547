/*
 * Array parameters are sent as Postgres array literals built here. pg's generic conversion
 * inspects and escapes every element, which was a third of a large batch's write time; uuids,
 * integers and ISO timestamps need no escaping, and text elements are quoted in one pass. They
 * are still bound parameters: a malformed element is refused by Postgres, never run as SQL.
 */
export const arrayLiteral = (elements: readonly string[]): string => `{${elements.join(',')}}`;
export const uuids = (values: readonly (string | null)[]): string => arrayLiteral(values.map((v) => v ?? 'NULL'));
export const numbers = (values: readonly (bigint | number)[]): string => arrayLiteral(values.map(String));
/**
 * A batch's rows mostly share one timestamp (the batch's clock reading) and come in runs of it,
 * so a timestamp is formatted once per run of equal values rather than once per row.
 */
export function times(values: readonly (Date | null)[]): string {
  let lastMs = NaN;
  let lastText = '';
  return arrayLiteral(
    values.map((v) => {
      if (v === null) return 'NULL';
      const ms = v.getTime();
      if (ms !== lastMs) {
        lastMs = ms;
        lastText = v.toISOString();
      }
      return lastText;
    }),
  );
}
export const texts = (values: readonly string[]): string => arrayLiteral(values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`));
