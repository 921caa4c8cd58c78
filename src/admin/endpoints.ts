import { RESERVED_PATHS } from '../config/schema.ts';

export type ReservedPath = (typeof RESERVED_PATHS)[number];

export function reservedPath(path: string): ReservedPath | undefined {
  return (RESERVED_PATHS as readonly string[]).includes(path) ? (path as ReservedPath) : undefined;
}
