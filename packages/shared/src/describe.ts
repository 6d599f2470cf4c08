/**
 * A value as error messages show it, with its type: ``` `"x"` (string) ```, ``` `[Function f]` (function) ```,
 * ``` `[object Object]` (object) ```, ``` `[Array]` (array) ```, ``` `null` (null) ```.
 */
export function describe(value: unknown): string {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const name = type === 'function' ? (value as { name?: unknown }).name : undefined;
  const shown =
    type === 'string'
      ? JSON.stringify(value)
      : type === 'function'
        ? `[Function${name ? ` ${name}` : ''}]`
        : type === 'bigint'
          ? `${value}n`
          : type === 'array'
            ? '[Array]'
            : type === 'object'
              ? Object.prototype.toString.call(value)
              : // A number, boolean, undefined, null or symbol (String() shows a symbol; a template would throw).
                String(value);
  return `\`${shown}\` (${type})`;
}
