// Tenant custom CSS, made harmless: parsed with css-tree and rebuilt from what
// an allowlist keeps (style rules, @media, @supports, @font-face, @keyframes;
// known properties; values made of plain tokens and known functions; url() only
// for https images on BRANDING_IMAGE_HOSTS). Anything else is dropped, never
// passed through: @import, expression(), behavior, -moz-binding, javascript: or
// data: URLs, unparsable input. Names are compared after decoding CSS escapes
// (`\75 rl(` is url(), `e\xpression` is expression), and the output never holds
// a `<`, so it cannot close a <style> element.
import { fromPlainObject, generate, ident, parse, toPlainObject, type CssNode } from 'css-tree';
import { isUnder } from '../domains/policy.ts';

/** Longest custom CSS accepted, in characters. */
export const MAX_CUSTOM_CSS_LENGTH = 32_000;
/** Nesting of @media / @supports kept. */
const MAX_DEPTH = 4;

export interface CssOptions {
  /** Hosts (and their subdomains) url() may load from, over https. Empty: no url() at all. */
  imageHosts: readonly string[];
}

export interface SanitisedCss {
  css: string;
  /** What was removed, briefly (at most 20 entries). */
  dropped: string[];
}

const SIDES = ['top', 'right', 'bottom', 'left'];
const LOGICAL = ['block', 'inline', 'block-start', 'block-end', 'inline-start', 'inline-end'];
const STYLE_PROPERTIES = new Set<string>([
  'color',
  'opacity',
  'visibility',
  'display',
  'box-sizing',
  'float',
  'clear',
  'vertical-align',
  'content',
  'quotes',
  'cursor',
  'background',
  'background-color',
  'background-image',
  'background-position',
  'background-position-x',
  'background-position-y',
  'background-size',
  'background-repeat',
  'background-attachment',
  'background-clip',
  'background-origin',
  'background-blend-mode',
  'border',
  'border-color',
  'border-style',
  'border-width',
  'border-radius',
  'border-collapse',
  'border-spacing',
  'border-image',
  'border-image-source',
  'border-image-slice',
  'border-image-width',
  'border-image-outset',
  'border-image-repeat',
  ...SIDES.flatMap((s) => [`border-${s}`, `border-${s}-color`, `border-${s}-style`, `border-${s}-width`]),
  ...['top-left', 'top-right', 'bottom-left', 'bottom-right'].map((c) => `border-${c}-radius`),
  'outline',
  'outline-color',
  'outline-style',
  'outline-width',
  'outline-offset',
  'margin',
  'padding',
  ...[...SIDES, ...LOGICAL].flatMap((s) => [`margin-${s}`, `padding-${s}`]),
  'width',
  'height',
  'min-width',
  'max-width',
  'min-height',
  'max-height',
  'inline-size',
  'block-size',
  'aspect-ratio',
  'position',
  'top',
  'right',
  'bottom',
  'left',
  'inset',
  'z-index',
  'overflow',
  'overflow-x',
  'overflow-y',
  'overflow-wrap',
  'text-overflow',
  'white-space',
  'word-break',
  'word-wrap',
  'hyphens',
  'flex',
  'flex-direction',
  'flex-wrap',
  'flex-flow',
  'flex-grow',
  'flex-shrink',
  'flex-basis',
  'order',
  'justify-content',
  'justify-items',
  'justify-self',
  'align-content',
  'align-items',
  'align-self',
  'place-content',
  'place-items',
  'place-self',
  'gap',
  'row-gap',
  'column-gap',
  'grid',
  'grid-template',
  'grid-template-columns',
  'grid-template-rows',
  'grid-template-areas',
  'grid-area',
  'grid-column',
  'grid-row',
  'grid-column-start',
  'grid-column-end',
  'grid-row-start',
  'grid-row-end',
  'grid-auto-flow',
  'grid-auto-columns',
  'grid-auto-rows',
  'font',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'font-variant',
  'font-stretch',
  'font-feature-settings',
  'line-height',
  'letter-spacing',
  'word-spacing',
  'text-align',
  'text-indent',
  'text-transform',
  'text-shadow',
  'text-decoration',
  'text-decoration-color',
  'text-decoration-line',
  'text-decoration-style',
  'text-decoration-thickness',
  'text-underline-offset',
  'list-style',
  'list-style-type',
  'list-style-position',
  'list-style-image',
  'box-shadow',
  'filter',
  'backdrop-filter',
  'transform',
  'transform-origin',
  'transition',
  'transition-property',
  'transition-duration',
  'transition-timing-function',
  'transition-delay',
  'animation',
  'animation-name',
  'animation-duration',
  'animation-timing-function',
  'animation-delay',
  'animation-iteration-count',
  'animation-direction',
  'animation-fill-mode',
  'animation-play-state',
  'object-fit',
  'object-position',
  'table-layout',
  'caret-color',
  'accent-color',
  'user-select',
  'pointer-events',
  'scroll-behavior',
]);
const FONT_FACE_PROPERTIES = new Set(['font-family', 'src', 'font-weight', 'font-style', 'font-stretch', 'font-display', 'unicode-range']);
/** Where an image (or, in @font-face, a font) may be named by url(). */
const URL_PROPERTIES = new Set([
  'background',
  'background-image',
  'border-image',
  'border-image-source',
  'list-style',
  'list-style-image',
  'content',
  'cursor',
  'src',
]);
const FUNCTIONS = new Set([
  'rgb',
  'rgba',
  'hsl',
  'hsla',
  'hwb',
  'lab',
  'lch',
  'oklab',
  'oklch',
  'color-mix',
  'calc',
  'min',
  'max',
  'clamp',
  'var',
  'linear-gradient',
  'radial-gradient',
  'conic-gradient',
  'repeating-linear-gradient',
  'repeating-radial-gradient',
  'repeating-conic-gradient',
  'translate',
  'translatex',
  'translatey',
  'translatez',
  'translate3d',
  'rotate',
  'rotatex',
  'rotatey',
  'rotatez',
  'rotate3d',
  'scale',
  'scalex',
  'scaley',
  'scalez',
  'scale3d',
  'skew',
  'skewx',
  'skewy',
  'matrix',
  'matrix3d',
  'perspective',
  'cubic-bezier',
  'steps',
  'blur',
  'brightness',
  'contrast',
  'drop-shadow',
  'grayscale',
  'hue-rotate',
  'invert',
  'saturate',
  'sepia',
  'opacity',
  'minmax',
  'repeat',
  'fit-content',
  'counter',
  'counters',
  'format',
  'local',
]);
/** Value tokens that carry no behaviour. */
const PLAIN_VALUE_NODES = new Set(['Identifier', 'Number', 'Dimension', 'Percentage', 'Hash', 'Operator', 'String', 'UnicodeRange']);
const CUSTOM_PROPERTY = /^--[\w-]{1,64}$/;

type Kind = 'style' | 'font-face';

class Sanitiser {
  readonly dropped: string[] = [];
  constructor(private readonly opts: CssOptions) {}

  drop(what: string): void {
    if (this.dropped.length < 20 && !this.dropped.includes(what)) this.dropped.push(what.length > 80 ? `${what.slice(0, 77)}...` : what);
  }

  rules(nodes: unknown, depth: number): CssNode[] {
    const out: CssNode[] = [];
    for (const node of list(nodes)) {
      const kept = node.type === 'Rule' ? this.rule(node, 'style') : node.type === 'Atrule' ? this.atrule(node, depth) : undefined;
      if (kept) out.push(kept);
      else if (node.type !== 'Rule' && node.type !== 'Atrule') this.drop(node.type === 'Raw' ? 'unparsable input' : node.type);
    }
    return out;
  }

  rule(node: CssNode, kind: Kind): CssNode | undefined {
    const prelude = node['prelude'] as CssNode | undefined;
    if (!prelude || prelude.type !== 'SelectorList' || !this.tree(prelude, false)) {
      this.drop('a rule with an unparsable selector');
      return undefined;
    }
    const declarations = this.declarations(block(node), kind);
    return declarations.length > 0 ? { ...node, block: { type: 'Block', loc: null, children: declarations } } : undefined;
  }

  atrule(node: CssNode, depth: number): CssNode | undefined {
    const name = decodedName(node['name']);
    const prelude = (node['prelude'] as CssNode | null | undefined) ?? null;
    const preludeSafe = prelude === null || (prelude.type !== 'Raw' && this.tree(prelude, false));
    const body = node['block'] as CssNode | null | undefined;
    if ((name === 'media' || name === 'supports') && preludeSafe && body && depth < MAX_DEPTH) {
      const children = this.rules(body['children'], depth + 1);
      return children.length > 0 ? { ...node, name, block: { type: 'Block', loc: null, children } } : undefined;
    }
    if (name === 'font-face' && prelude === null && body) {
      const children = this.declarations(body, 'font-face');
      return children.length > 0 ? { ...node, name, block: { type: 'Block', loc: null, children } } : undefined;
    }
    if (name === 'keyframes' && preludeSafe && prelude !== null && body) {
      const children = list(body['children']).flatMap((frame) => {
        const kept = frame.type === 'Rule' ? this.rule(frame, 'style') : undefined;
        return kept ? [kept] : [];
      });
      return { ...node, name, block: { type: 'Block', loc: null, children } };
    }
    this.drop(`@${name}`);
    return undefined;
  }

  declarations(parent: CssNode | undefined, kind: Kind): CssNode[] {
    const out: CssNode[] = [];
    for (const node of list(parent?.['children'])) {
      if (node.type !== 'Declaration') {
        this.drop(node.type === 'Raw' ? 'unparsable input' : `nested ${node.type}`);
        continue;
      }
      // Custom properties are case-sensitive: keep their case; others are written in lower case.
      const written = typeof node['property'] === 'string' ? ident.decode(node['property']) : '';
      const custom = kind === 'style' && CUSTOM_PROPERTY.test(written);
      const property = custom ? written : written.toLowerCase();
      const known = custom || (kind === 'style' ? STYLE_PROPERTIES : FONT_FACE_PROPERTIES).has(property);
      if (!known) {
        this.drop(`property ${property}`);
        continue;
      }
      const value = node['value'] as CssNode | undefined;
      if (!value || value.type !== 'Value' || !this.tree(value, URL_PROPERTIES.has(property))) {
        this.drop(`the value of ${property}`);
        continue;
      }
      out.push({ ...node, property });
    }
    return out;
  }

  /** Every node under `node` is a plain token, a known function or (where allowed) an allowed image URL. Normalises names and URLs in place. */
  tree(node: CssNode, urls: boolean): boolean {
    switch (node.type) {
      case 'Raw':
        return false;
      case 'Url': {
        const href = urls ? this.imageUrl(node['value']) : undefined;
        if (href === undefined) return false;
        node['value'] = href;
        return true;
      }
      case 'Function':
      case 'PseudoClassSelector':
      case 'PseudoElementSelector': {
        const name = decodedName(node['name']);
        if (node.type === 'Function' && !FUNCTIONS.has(name)) {
          this.drop(`${name}()`);
          return false;
        }
        // Written decoded (no escapes left), in its own case: function names are case-insensitive.
        if (node.type === 'Function') node['name'] = ident.decode(String(node['name']));
        break;
      }
      default:
        if (PLAIN_VALUE_NODES.has(node.type)) return true;
    }
    // Containers (Value, Parentheses, selectors, media queries): every child must pass.
    for (const [key, child] of Object.entries(node)) {
      if (key === 'loc' || child === null || typeof child !== 'object') continue;
      const children = Array.isArray(child) ? (child as CssNode[]) : [child as CssNode];
      for (const c of children) if (c && typeof c === 'object' && typeof c.type === 'string' && !this.tree(c, urls)) return false;
    }
    return true;
  }

  imageUrl(value: unknown): string | undefined {
    if (typeof value !== 'string' || value.length > 2048) return undefined;
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      this.drop('a relative or malformed url()');
      return undefined;
    }
    const host = url.hostname.toLowerCase();
    if (url.protocol !== 'https:' || url.username || url.password || !this.opts.imageHosts.some((h) => isUnder(host, h))) {
      this.drop(`url(${url.protocol}${url.protocol === 'https:' ? `//${host}` : ''}...)`);
      return undefined;
    }
    return url.href;
  }
}

function list(value: unknown): CssNode[] {
  return Array.isArray(value) ? (value as CssNode[]).filter((n) => n && typeof n === 'object') : [];
}

function block(node: CssNode): CssNode | undefined {
  const b = node['block'];
  return b && typeof b === 'object' ? (b as CssNode) : undefined;
}

/** A name as the browser reads it: escapes decoded, ASCII lower case. */
function decodedName(raw: unknown): string {
  return typeof raw === 'string' ? ident.decode(raw).toLowerCase() : '';
}

export class CustomCssTooLarge extends Error {}

export function sanitiseCss(input: string, opts: CssOptions): SanitisedCss {
  if (input.length > MAX_CUSTOM_CSS_LENGTH) throw new CustomCssTooLarge(`at most ${MAX_CUSTOM_CSS_LENGTH} characters`);
  const sanitiser = new Sanitiser(opts);
  const parsed = toPlainObject(parse(input, { positions: false, parseCustomProperty: true, onParseError: () => undefined }));
  const sheet: CssNode = { type: 'StyleSheet', loc: null, children: sanitiser.rules(parsed['children'], 0) };
  // No `<` leaves: inside strings `\3c ` is the same character, elsewhere it cannot occur in valid CSS.
  const css = generate(fromPlainObject(sheet)).replace(/</g, '\\3c ');
  return { css, dropped: sanitiser.dropped };
}
