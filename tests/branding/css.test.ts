// Custom CSS sanitiser: hostile inputs come out harmless (checked on the text
// and by parsing the output again), ordinary CSS comes out with the same meaning.
import { describe, expect, it } from 'vitest';
import { generate, ident, parse, toPlainObject, type CssNode } from 'css-tree';
import { CustomCssTooLarge, MAX_CUSTOM_CSS_LENGTH, sanitiseCss } from '../../actions-server/src/branding/css.ts';

const opts = { imageHosts: ['cdn.acme.com'] };

/** Every node of a parsed stylesheet. */
function nodes(node: unknown, out: CssNode[] = []): CssNode[] {
  if (Array.isArray(node)) for (const n of node) nodes(n, out);
  else if (node && typeof node === 'object') {
    const n = node as CssNode;
    if (typeof n.type === 'string') out.push(n);
    for (const [k, v] of Object.entries(n)) if (k !== 'loc') nodes(v, out);
  }
  return out;
}

const decoded = (v: unknown) => (typeof v === 'string' ? ident.decode(v).toLowerCase() : '');

function expectHarmless(css: string): void {
  expect(css).not.toContain('<');
  const lower = css.toLowerCase();
  for (const bad of [
    '@import',
    '@charset',
    '@namespace',
    'expression',
    'javascript:',
    'vbscript:',
    'behavior',
    '-moz-binding',
    'data:',
    'evil.example',
    'progid',
    'image-set',
  ]) {
    expect(lower, css).not.toContain(bad);
  }
  const all = nodes(toPlainObject(parse(css, { parseCustomProperty: true })));
  for (const n of all) {
    expect(n.type, css).not.toBe('Raw');
    if (n.type === 'Url') expect(String(n['value']), css).toMatch(/^https:\/\/cdn\.acme\.com\//);
    if (n.type === 'Function') expect(['expression', 'url', 'image-set', 'attr', 'element', 'src'], css).not.toContain(decoded(n['name']));
    if (n.type === 'Declaration')
      expect(['behavior', '-moz-binding', '-ms-filter', 'filter:progid'], css).not.toContain(decoded(n['property']));
    if (n.type === 'Atrule') expect(['media', 'supports', 'font-face', 'keyframes'], css).toContain(decoded(n['name']));
  }
}

const HOSTILE: [string, string][] = [
  ['url(javascript:)', 'a{background:url(javascript:alert(1))}'],
  ['quoted url(javascript:)', 'a{background:url("javascript:alert(1)")}'],
  ['upper-case JavaScript', 'a{background-image:url("JaVaScRiPt:alert(1)")}'],
  ['expression()', 'a{width:expression(alert(1))}'],
  ['EXPRESSION()', 'a{width:EXPRESSION(alert(1))}'],
  ['escaped e\\xpression()', 'a{width:e\\xpression(alert(1))}'],
  ['@import', '@import url(https://evil.example/x.css); a{color:red}'],
  ['@import from an allowed host', '@import "https://cdn.acme.com/x.css"; a{color:red}'],
  ['escaped @\\69mport', '@\\69mport "x.css"; a{color:red}'],
  ['</style><script> after a rule', 'a{color:red}</style><script>alert(1)</script>'],
  ['</style> in a string', 'a{content:"</style><script>alert(1)</script>"}'],
  ['</style> in a comment', '/* </style><script>alert(1)</script> */ a{color:red}'],
  ['</style> in an attribute selector', 'a[href^="</style><script>"]{color:red}'],
  ['escaped \\75 rl(', 'a{background:\\75 rl(javascript:alert(1))}'],
  ['escaped u\\72l(', 'a{background:u\\72l(javascript:alert(1))}'],
  ['behavior:', 'a{behavior:url(https://cdn.acme.com/x.htc)}'],
  ['escaped beh\\61vior', 'a{beh\\61vior:url(x.htc)}'],
  ['-moz-binding', 'a{-moz-binding:url("https://cdn.acme.com/xbl.xml#x")}'],
  ['data: image', 'a{background:url(data:image/svg+xml;base64,PHN2Zz4=)}'],
  ['data: html', 'a{background-image:url("data:text/html,<script>alert(1)</script>")}'],
  ['a host not allowed', 'a{background:url(https://evil.example/track.png)}'],
  ['http instead of https', 'a{background:url(http://cdn.acme.com/x.png)}'],
  ['protocol-relative', 'a{background:url(//evil.example/x.png)}'],
  ['allowed host as a prefix', 'a{background:url(https://cdn.acme.com.evil.example/x.png)}'],
  ['credentials in the URL', 'a{background:url(https://user:pw@cdn.acme.com/x.png)}'],
  ['custom property smuggling a url', 'a{--x:url(javascript:alert(1));background:var(--x)}'],
  ['custom property smuggling expression', 'a{--x:expression(alert(1))}'],
  ['closing brace injection', 'a{color:red;}} body{background:url(javascript:alert(1))'],
  ['@import inside @media', '@media screen{@import url(x.css);a{width:expression(1)}}'],
  ['-ms-filter progid', 'a{-ms-filter:"progid:DXImageTransform.Microsoft.Alpha(Opacity=50)"}'],
  ['image-set()', 'a{background-image:image-set("javascript:alert(1)" 1x)}'],
  ['@font-face from a host not allowed', '@font-face{font-family:x;src:url(https://evil.example/f.woff)}'],
  ['cursor url(javascript:)', 'a{cursor:url(javascript:alert(1)),auto}'],
  ['@charset utf-7', '@charset "utf-7"; +ADw-script+AD4-alert(1)+ADw-/script+AD4-'],
  ['HTML comment tokens', '<!-- a{color:red} -->'],
  ['vbscript:', 'a{list-style:url(vbscript:msgbox(1))}'],
  ['@namespace url()', '@namespace url(javascript:alert(1));'],
  ['one bad url among good ones', 'a{background:url(https://cdn.acme.com/a.png),url(javascript:alert(1))}'],
  ['escaped semicolon', 'a{color:red\\;background:url(javascript:1)}'],
  ['deep nesting', `${'@media screen{'.repeat(60)}a{width:expression(1)}${'}'.repeat(60)}`],
];

describe('hostile custom CSS comes out harmless', () => {
  it.each(HOSTILE)('%s', (_name, input) => {
    const out = sanitiseCss(input, opts);
    expectHarmless(out.css);
  });

  it('has at least 20 cases', () => expect(HOSTILE.length).toBeGreaterThanOrEqual(20));

  it('keeps the harmless rest of a mixed sheet, and says what it removed', () => {
    const out = sanitiseCss('a{color:red;behavior:url(x.htc)} @import "x.css"; b{margin:0;width:expression(1)}', opts);
    expect(out.css).toBe('a{color:red}b{margin:0}');
    expect(out.dropped).toEqual(expect.arrayContaining(['property behavior', '@import', 'expression()']));
  });

  it('keeps a string meaning the same text while escaping its <', () => {
    const out = sanitiseCss('a::before{content:"</style>"}', opts);
    expect(out.css).toBe('a::before{content:"\\3c /style>"}');
    const strings = nodes(toPlainObject(parse(out.css))).filter((n) => n.type === 'String');
    expect(strings.map((n) => n['value'])).toEqual(['</style>']);
  });

  it('refuses oversized input', () => {
    expect(() => sanitiseCss(`a{color:red}${' '.repeat(MAX_CUSTOM_CSS_LENGTH)}`, opts)).toThrow(CustomCssTooLarge);
  });
});

describe('ordinary CSS survives', () => {
  const ORDINARY = `
    :root { --brand: #0a84ff; --radius: 6px; }
    body { font-family: "Inter", system-ui, sans-serif; color: #1c1c1e; background-color: #fafafa; margin: 0; line-height: 1.5; }
    .header { display: flex; align-items: center; justify-content: space-between; padding: 12px 24px; border-bottom: 1px solid rgba(0, 0, 0, .1); }
    .header .logo { width: 120px; height: auto; background: url(https://cdn.acme.com/logo.png) no-repeat center / contain; }
    .btn-primary, .btn-primary:hover { background: var(--brand); color: #fff; border-radius: var(--radius); transition: background-color .2s ease-in-out; }
    .btn-primary:not(:disabled):active { transform: translateY(1px) scale(.98); box-shadow: 0 1px 2px rgba(0, 0, 0, .2) inset; }
    .card { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 16px; width: calc(100% - 2rem); }
    .hero { background-image: linear-gradient(135deg, #0a84ff 0%, hsl(280, 80%, 60%) 100%); }
    a[href^="https://"]::after { content: " ↗"; }
    ul li:nth-child(2n+1) { list-style-type: square; }
    @media (max-width: 600px) { .header { flex-direction: column; } }
    @supports (display: grid) { .card { display: grid; } }
    @font-face { font-family: "Brand Sans"; src: url(https://cdn.acme.com/brand.woff2) format("woff2"); font-display: swap; }
    @keyframes pulse { from { opacity: 1; } 50% { opacity: .5; } to { opacity: 1; } }
    .spinner { animation: pulse 2s infinite; }
    .important { color: #c00 !important; --Case-Kept: 1px; }
  `;

  it('comes out as css-tree writes the same stylesheet, nothing removed', () => {
    const out = sanitiseCss(ORDINARY, opts);
    expect(out.dropped).toEqual([]);
    expect(out.css).toBe(generate(parse(ORDINARY, { parseCustomProperty: true })));
  });

  it('is stable: sanitising the output again changes nothing', () => {
    const once = sanitiseCss(ORDINARY, opts).css;
    expect(sanitiseCss(once, opts).css).toBe(once);
  });
});
