import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A link in a Markdown file: where it is and what it points at, as written. */
export interface DocLink {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** A relative link whose file or `#anchor` does not exist. */
export interface BrokenLink extends DocLink {
  readonly problem: string;
}

const FENCE = /^\s*(```|~~~)/;
const HEADING = /^#{1,6}\s+(.+?)\s*#*\s*$/;
// [text](target) or [text](target "title"); images too, since ![alt](src) ends the same way.
const INLINE_LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
// [label]: target
const REFERENCE_LINK = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/;
// A scheme (https:, mailto:) makes a link absolute: only relative links are checked.
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/** The lines of `markdown` outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { readonly text: string; readonly line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let inFence = false;
  markdown.split('\n').forEach((text, index) => {
    if (FENCE.test(text)) {
      inFence = !inFence;
      return;
    }
    if (!inFence) lines.push({ text, line: index + 1 });
  });
  return lines;
}

/**
 * The anchor GitHub gives a heading: the rendered text lowercased, every character that is not a letter,
 * mark, number, connector (`_`), space or hyphen dropped, spaces turned into hyphens; a repeated heading
 * gets `-1`, `-2`... (github-slugger, which github.com and most Markdown renderers follow).
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = HEADING.exec(text)?.[1];
    if (heading === undefined) continue;
    const rendered = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = rendered
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every link in `markdown` outside code blocks and inline code spans. */
export function linksIn(markdown: string, file: string): DocLink[] {
  const links: DocLink[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '``');
    const reference = REFERENCE_LINK.exec(prose)?.[1];
    if (reference !== undefined) links.push({ file, line, target: reference });
    for (const match of prose.matchAll(INLINE_LINK)) {
      const target = match[1];
      if (target !== undefined) links.push({ file, line, target });
    }
  }
  return links;
}

/**
 * The relative links in `files` (paths under `root`) that lead nowhere: to a file that does not exist, or to
 * an anchor that no heading of the target Markdown file has. Links to other sites are not followed.
 */
export function brokenLinks(root: string, files: readonly string[]): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (absolute: string): Set<string> => {
    let known = anchorsOf.get(absolute);
    if (known === undefined) {
      known = headingAnchors(readFileSync(absolute, 'utf8'));
      anchorsOf.set(absolute, known);
    }
    return known;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    const absoluteFile = path.join(root, file);
    for (const link of linksIn(readFileSync(absoluteFile, 'utf8'), file)) {
      if (ABSOLUTE.test(link.target)) continue;
      const hashAt = link.target.indexOf('#');
      const linkPath = hashAt === -1 ? link.target : link.target.slice(0, hashAt);
      const anchor = hashAt === -1 ? undefined : decodeURIComponent(link.target.slice(hashAt + 1));
      const targetFile =
        linkPath === ''
          ? absoluteFile
          : path.resolve(path.dirname(absoluteFile), decodeURIComponent(linkPath));
      if (!existsSync(targetFile)) {
        broken.push({ ...link, problem: `no file ${path.relative(root, targetFile)}` });
      } else if (anchor !== undefined && targetFile.endsWith('.md') && !anchors(targetFile).has(anchor)) {
        broken.push({
          ...link,
          problem: `no heading with anchor #${anchor} in ${path.relative(root, targetFile)}`,
        });
      }
    }
  }
  return broken;
}
