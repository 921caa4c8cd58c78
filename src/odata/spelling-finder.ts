/**
 * Which of a route's spellings occur in a text, found with as few searches of the whole
 * text as possible: the rewriter runs one String.replace pass per spelling that occurs,
 * and on a large page the searches that rule the others out are much of its cost.
 *
 * Spellings are grouped by an anchor they all contain (the base path, which every
 * spelling of a route with one ends with; for an upstream's root, the origin). One search
 * for the anchor rules out the whole group. Where it occurs, the spellings at its first
 * few places are found at once, and one search for "the anchor after anything but those"
 * rules out the rest, instead of a search per spelling: a search for a spelling that
 * shares its last characters with the links all over the page is slow.
 */
export class SpellingFinder {
  readonly #groups: readonly Group[];
  /** Searches for "the anchor not preceded by these", by group and found spellings: a few per route. */
  readonly #others = new Map<string, RegExp | null>();
  /** Scratch of occurring(), all 0 between calls: 1 for a spelling found in the text at hand. */
  readonly #isFound: Uint8Array;

  constructor(spellings: readonly string[], basePath: string) {
    this.#isFound = new Uint8Array(spellings.length);
    const groups = new Map<string, Member[]>();
    spellings.forEach((from, index) => {
      const anchor = anchorOf(from, basePath);
      const offset = from.lastIndexOf(anchor);
      groups.set(anchor, [...(groups.get(anchor) ?? []), { index, from, offset, head: from.slice(0, offset) }]);
    });
    this.#groups = [...groups].map(([anchor, members]) => ({ anchor, members }));
  }

  /** The indexes of the spellings that occur in text, ascending. */
  occurring(text: string): number[] {
    // Per call and request: no arrays of every spelling, no closures (a small body's rewrite is ~2 µs in all).
    const occurs: number[] = [];
    const isFound = this.#isFound;
    for (let groupIndex = 0; groupIndex < this.#groups.length; groupIndex++) {
      const group = this.#groups[groupIndex]!;
      const { anchor, members } = group;
      let at = text.indexOf(anchor);
      if (at === -1) continue;
      const foundBefore = occurs.length;
      for (let seen = 0; at !== -1 && seen < SAMPLED && occurs.length - foundBefore < members.length; at = text.indexOf(anchor, at + 1), seen++) {
        for (const member of members) {
          if (isFound[member.index] === 1 || at < member.offset || !text.startsWith(member.from, at - member.offset)) continue;
          isFound[member.index] = 1;
          occurs.push(member.index);
        }
      }
      const foundHere = occurs.length - foundBefore;
      // Every place of the anchor was looked at (a small body's few links): each spelling's
      // occurrence holds the anchor at its offset, so the rest occur nowhere.
      if (foundHere === members.length || at === -1) continue;
      const found = members.filter(({ index }) => isFound[index] === 1);
      const rest = members.filter(({ index }) => isFound[index] === 0);
      const others = found.length > 0 ? this.#othersThan(groupIndex, group, found, rest) : null;
      if (others && !others.test(text)) continue;
      for (const { index, from } of rest) if (text.includes(from)) occurs.push(index);
    }
    for (const index of occurs) isFound[index] = 0;
    return occurs.length > 1 ? occurs.sort((a, b) => a - b) : occurs;
  }

  /**
   * "The anchor, after anything but the found spellings' heads": the shortest ends of the
   * heads that tell the found spellings from the rest, or null when none do (then each of
   * the rest is searched for on its own).
   */
  #othersThan(groupIndex: number, group: Group, found: readonly Member[], rest: readonly Member[]): RegExp | null {
    const key = `${groupIndex} ${found.map(({ index }) => index).join(',')}`;
    const cached = this.#others.get(key);
    if (cached !== undefined) return cached;
    // An end tells a found spelling from one of the rest unless either's head ends with the
    // other (a rest spelling's occurrence is its head after anything at all).
    const apart = (end: string, head: string) => !head.endsWith(end) && !end.endsWith(head);
    const longest = Math.max(...found.map(({ head }) => head.length));
    let pattern: RegExp | null = null;
    for (let length = 1; length <= Math.min(longest, 16) && !pattern; length++) {
      const ends = [...new Set(found.map(({ head }) => head.slice(-length)))];
      if (ends.every((end) => end !== '' && rest.every(({ head }) => apart(end, head)))) {
        pattern = new RegExp(`(?<!${ends.map(escapeRegExp).join('|')})${escapeRegExp(group.anchor)}`);
      }
    }
    this.#others.set(key, pattern);
    return pattern;
  }
}

interface Member {
  index: number;
  from: string;
  /** Where the anchor starts in the spelling. */
  offset: number;
  /** What comes before the anchor. */
  head: string;
}

interface Group {
  anchor: string;
  members: readonly Member[];
}

/** The anchor's places looked at to find the spellings a page uses. */
const SAMPLED = 4;

/**
 * A text the spelling contains and shares with others: the base path, plain or escaped,
 * which every spelling of a route with one ends with; for an upstream's root, the
 * spelling without its default port, which the one with it starts with.
 */
function anchorOf(from: string, basePath: string): string {
  if (basePath !== '') return from.endsWith(basePath) ? basePath : basePath.replaceAll('/', '\\/');
  return from.replace(/:(?:443|80)$/, '');
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
