/**
 * A value as error messages show it, with its type: ``` `"x"` (string) ```, ``` `[Function f]` (function) ```,
 * ``` `[object Object]` (object) ```, ``` `[Array]` (array) ```, ``` `null` (null) ```.
 */
export function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = value.name ? `[Function ${value.name}]` : '[Function]';
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (typeof value === 'symbol') shown = value.toString();
  else if (value !== null && typeof value === 'object')
    shown = Array.isArray(value) ? '[Array]' : Object.prototype.toString.call(value);
  else shown = String(value);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}
