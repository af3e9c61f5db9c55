/**
 * Undoes "defanging", the habit of threat reports of writing indicators so that they are
 * not clickable: `hxxp://evil[.]example`, `user[at]example(dot)com`, `1.2.3[.]4`.
 */

/** Bracketed replacements: `[.]`, `(dot)`, `{.}`, `[:]`, `[://]`, `[/]`, `[@]`, `[at]`. */
const BRACKETED = /[[({]\s*(\.|dot|:\/\/|:|\/|@|at)\s*[\])}]/gi;

/** `hxxp`, `hXXps`, `h**p`, `h__p` and `fxp` before a colon (or a bracketed one). */
const SCHEME = /\b(?:h(?:xx|\*\*|__)p(s?)|fxp)(?=\[?:)/gi;

/** A backslash before a dot, as in `evil\.example`. */
const ESCAPED_DOT = /\\\./g;

/** Cheap test for anything the replacements could change. */
const MAYBE_DEFANGED = /[[({\\]|h(?:xx|\*\*|__)p|fxp/i;

const BRACKET_MEANING: Record<string, string> = {
  '.': '.',
  dot: '.',
  ':': ':',
  '://': '://',
  '/': '/',
  '@': '@',
  at: '@',
};

/**
 * Returns `text` with defanged notation turned back into plain indicators. Text without any
 * defanging comes back unchanged (the same string), so calling this on clean input is cheap.
 */
export function refang(text: string): string {
  if (!MAYBE_DEFANGED.test(text)) return text;
  return text
    .replace(SCHEME, (match: string, secure: string | undefined) => {
      if (match[0] === 'f' || match[0] === 'F') return 'ftp';
      return secure ? 'https' : 'http';
    })
    .replace(BRACKETED, (_match: string, inner: string) => BRACKET_MEANING[inner.toLowerCase()]!)
    .replace(ESCAPED_DOT, '.');
}
