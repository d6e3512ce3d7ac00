// The part of css-tree's API the branding sanitiser uses (the package ships no
// types). Trees are handled as plain objects (toPlainObject / fromPlainObject).
declare module 'css-tree' {
  export interface CssNode {
    type: string;
    [key: string]: unknown;
  }
  export interface ParseOptions {
    context?: string;
    positions?: boolean;
    parseValue?: boolean;
    parseCustomProperty?: boolean;
    onParseError?: (error: Error) => void;
  }
  export function parse(source: string, options?: ParseOptions): CssNode;
  export function generate(ast: CssNode): string;
  export function toPlainObject(ast: CssNode): CssNode;
  export function fromPlainObject(ast: CssNode): CssNode;
  export const ident: { decode(input: string): string; encode(input: string): string };
}
