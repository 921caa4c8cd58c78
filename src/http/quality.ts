/**
 * The entries of an Accept-style header (`a;q=0.5, b`), lower-cased, each with its raw
 * weight: 1 when no q is given, Number(q) otherwise (NaN for garbage; callers decide).
 */
export function qualityList(header: string): Array<{ value: string; weight: number }> {
  return header.split(',').map((part) => {
    const [value = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    return { value, weight: q === undefined ? 1 : Number(q.slice(2)) };
  });
}
