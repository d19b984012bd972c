// Expected error messages built from the shapes a test passed in, so that they follow regenerated fixtures.

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A shape as the errors print it: `[2, 4, 8, 8]`. */
export const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** A shape in a layout's parentheses: `(2, 3, 8, 6)`. */
export const dimsText = (shape: readonly number[]): string => `(${shape.join(', ')})`;

/** Matches a message holding the parts in this order, anything between them; arrays are printed as shapes. */
export function inOrder(...parts: (string | readonly number[])[]): RegExp {
  return new RegExp(parts.map((p) => escape(typeof p === 'string' ? p : shapeText(p))).join('.*'), 's');
}
