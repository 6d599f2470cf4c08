// Markdown helpers for the site's config: table cells that know their column (for the phone layout)
// and a page's description taken from its own first paragraph.
import type { MarkdownRenderer as MarkdownIt } from 'vitepress';

/** Strips inline Markdown and HTML from a line of source, leaving the words a reader sees. */
function plainText(markdown: string): string {
  return markdown
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]/g, '')
    .replace(/\\([|<>])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The first paragraph of prose in a page's Markdown source (not a heading, list, table, code block,
 * container, include or front matter), as plain text of at most about 200 characters.
 */
export function pageDescription(source: string): string | undefined {
  const body = source.replace(/^---\n[\s\S]*?\n---\n/, '').replace(/^```[\s\S]*?^```/gm, '');
  for (const block of body.split(/\n\s*\n/)) {
    const first = block.trimStart();
    if (first === '' || /^(#|\||:::|<<<|<!--|<|>|-|\*|\d+\.|\[!)/.test(first)) continue;
    if (/^\[[^\]]*\]\([^)]*\)\s*\//.test(first)) continue; // a generated page's breadcrumb
    let text = plainText(block);
    if (text.length < 20) continue;
    if (text.length > 200) text = `${text.slice(0, 200).replace(/\s+\S*$/, '')}...`;
    return text;
  }
  return undefined;
}

/** Gives every table cell a `data-label` with its column's header, so a phone can show each row as a card. */
export function tableDataLabels(md: MarkdownIt): void {
  md.core.ruler.push('lac-table-labels', (state) => {
    let headers: string[] = [];
    let column = 0;
    const tokens = state.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token.type === 'thead_open') headers = [];
      else if (token.type === 'th_open') headers.push(plainText(tokens[i + 1]?.content ?? ''));
      else if (token.type === 'tr_open') column = 0;
      else if (token.type === 'td_open') token.attrSet('data-label', headers[column++] ?? '');
    }
  });
}
