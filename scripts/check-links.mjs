#!/usr/bin/env node
// Checks every relative link in the repository's Markdown files: the target file or folder must
// exist, and a `#fragment` must name a heading (GitHub's anchor rules) or an explicit
// `<a id>`/`<a name>` of the target Markdown file. Links with a scheme (https:, mailto:) are not
// fetched. No dependencies, so it runs before anything is installed. Exit 1 on any broken link.
//   node scripts/check-links.mjs [root]
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
/** Generated, installed or scratch folders: their Markdown is not ours to keep true. */
const SKIP = new Set(['node_modules', '.git', 'dist', '.tmp', 'data', 'test-artifacts', 'coverage']);

function markdownFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...markdownFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.md')) out.push(path);
  }
  return out;
}

/** The Markdown with fenced code blocks and inline code blanked out (line numbers kept). */
function prose(text) {
  let fence = null;
  return text
    .split('\n')
    .map((line) => {
      const open = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence) {
        if (open && open[1][0] === fence[0] && open[1].length >= fence.length) fence = null;
        return '';
      }
      if (open) {
        fence = open[1];
        return '';
      }
      return line.replace(/(`+)[^`]*?\1/g, (m) => ' '.repeat(m.length));
    })
    .join('\n');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  let fence = null;
  for (const line of text.split('\n')) {
    const open = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (open && open[1][0] === fence[0] && open[1].length >= fence.length) fence = null;
      continue;
    }
    if (open) {
      fence = open[1];
      continue;
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const plain = heading[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*_~]/g, (c) => (c === '_' ? '_' : ''));
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** `[text](target "title")`, `![alt](target)` and `[label]: target` definitions. */
function linksOf(text) {
  const links = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+["'(][^)]*)?\)/g)) links.push({ target: m[1], line: i + 1 });
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(line);
    if (def) links.push({ target: def[1], line: i + 1 });
  });
  return links;
}

const anchorCache = new Map();
function anchorsOfFile(path) {
  if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(readFileSync(path, 'utf8')));
  return anchorCache.get(path);
}

const broken = [];
const files = markdownFiles(root);
let checked = 0;
for (const file of files) {
  for (const { target, line } of linksOf(prose(readFileSync(file, 'utf8')))) {
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
    checked++;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const fragment = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const resolved = pathPart === '' ? file : pathPart.startsWith('/') ? join(root, pathPart) : resolve(dirname(file), pathPart);
    const where = `${relative(root, file)}:${line}`;
    if (!resolved.startsWith(root)) broken.push(`${where}: ${target} leaves the repository`);
    else if (!existsSync(resolved)) broken.push(`${where}: ${target} does not exist`);
    else if (fragment && statSync(resolved).isFile() && resolved.endsWith('.md') && !anchorsOfFile(resolved).has(fragment)) {
      broken.push(`${where}: ${target} has no heading #${fragment}`);
    }
  }
}

if (broken.length > 0) {
  process.stdout.write(`${broken.length} broken relative link(s) in Markdown:\n${broken.map((b) => `  ${b}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`links: ${checked} relative links in ${files.length} Markdown files, all resolve\n`);
