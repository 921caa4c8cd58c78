import type { z } from 'zod';

/**
 * A schema issue in the project's words, as a config file's author reads them: YAML's
 * kinds of value (text, a number, true or false, a list, a mapping), never zod's own
 * ("Invalid input: expected number, received string"). Messages the schema sets itself
 * (refinements, unions, URL and pattern checks) are already ours and pass unchanged.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required key is missing (expected ${kind(issue.expected)})`;
      if (issue.input === null) return `has no value (expected ${kind(issue.expected)})`;
      // A number where text belongs is most often a numeric secret or id written without quotes: never repeated.
      if (issue.expected === 'string' && typeof issue.input === 'number') return 'expected text, not a number (write it in quotes)';
      return `expected ${kind(issue.expected)}, not ${described(issue.input)}`;
    case 'too_small':
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case 'too_big':
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive !== false);
    case 'invalid_value': {
      const choices = issue.values.map((value) => String(value)).join(', ');
      return issue.input === undefined || issue.input === null ? `has no value (expected one of ${choices})` : `expected one of ${choices}, not ${described(issue.input)}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      // Custom, union, format and key checks carry the schema's own message; zod's
      // default wording ("Invalid input", "Invalid string: …") means one was forgotten.
      return /^(Invalid|Too (small|big))\b/.test(issue.message) ? 'is not a valid value here (see bearer-proxy schema for what this key takes)' : issue.message;
  }
}

/** The words for a JSON type, as YAML writes such a value. */
function kind(expected: string): string {
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list (- item lines, or [a, b])';
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping (key: value lines)';
    default:
      return expected;
  }
}

/** What was written, briefly: a short text is quoted (the loader replaces a quoted ${…} value by a description). */
function described(input: unknown): string {
  if (typeof input === 'string') return input === '' ? 'empty text' : input.length <= 60 && !/[\r\n]/.test(input) ? `the text "${input}"` : 'a longer text';
  if (typeof input === 'number') return Number.isInteger(input) ? `the number ${input}` : `${input}`;
  if (typeof input === 'boolean') return String(input);
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a mapping';
  return String(input);
}

function tooSmall(origin: string, minimum: number, inclusive: boolean): string {
  if (origin === 'string') return minimum <= 1 ? 'must not be empty' : `must be at least ${minimum} characters long`;
  if (origin === 'array' || origin === 'set') return `needs at least ${minimum} entr${minimum === 1 ? 'y' : 'ies'}`;
  return inclusive ? `must be ${minimum} or more` : `must be more than ${minimum}`;
}

function tooBig(origin: string, maximum: number, inclusive: boolean): string {
  if (origin === 'string') return `must be at most ${maximum} characters long`;
  if (origin === 'array' || origin === 'set') return `takes at most ${maximum} entr${maximum === 1 ? 'y' : 'ies'}`;
  return inclusive ? `must be ${maximum} or less` : `must be less than ${maximum}`;
}
