import { isUtf8 } from 'node:buffer';
import { basename } from 'node:path';

/**
 * Config files and the files they name are UTF-8 (a UTF-8 byte-order mark, which Windows
 * PowerShell's `Set-Content -Encoding utf8` writes, is dropped). Anything else is refused
 * with what it is and how to fix it, rather than parsed into nonsense: Windows PowerShell
 * 5.1's `>` and `Out-File` write UTF-16, which YAML reads as one long string.
 */
export function decodeText(bytes: Buffer, path: string): string {
  const problem = encodingProblem(bytes, basename(path));
  if (problem) throw Object.assign(new Error(problem), { code: 'EENCODING' });
  return bytes.toString('utf8', hasUtf8Bom(bytes) ? 3 : 0);
}

/** Why these bytes are not UTF-8 text, or undefined when they are. */
export function encodingProblem(bytes: Buffer, name: string): string | undefined {
  const utf16 = utf16Kind(bytes);
  if (utf16) {
    return (
      `it is ${utf16}, as Windows PowerShell 5.1 writes with > and Out-File; save it as UTF-8: ` + `(Get-Content ${name}) | Set-Content -Encoding utf8 ${name}, or in Notepad: Save as, Encoding: UTF-8`
    );
  }
  if (isUtf8(bytes)) return bytes.includes(0) ? 'it holds NUL bytes, so it is not a text file' : undefined;
  // ASN.1 SEQUENCE with a long length: a certificate or key in binary DER rather than PEM text.
  if (bytes[0] === 0x30 && bytes[1]! >= 0x81 && bytes[1]! <= 0x84)
    return `it is binary (DER), not text; PEM is needed: openssl x509 -inform der -in ${name} -out ${name}.pem (a key: openssl pkey -inform der)`;
  const offset = firstInvalidUtf8(bytes);
  const { line, column } = position(bytes, offset);
  return `it is not UTF-8: byte 0x${bytes[offset]!.toString(16).toUpperCase().padStart(2, '0')} at line ${line}, column ${column} ` + '(text saved as Windows-1252 or Latin-1?); save it as UTF-8';
}

function hasUtf8Bom(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** UTF-16 or UTF-32 by byte-order mark, or UTF-16 without one by where the NUL bytes of ASCII text fall. */
function utf16Kind(bytes: Buffer): string | undefined {
  const [a, b, c, d] = bytes;
  if (a === 0xff && b === 0xfe && c === 0 && d === 0) return 'UTF-32 (little-endian, with a byte-order mark)';
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return 'UTF-32 (big-endian, with a byte-order mark)';
  if (a === 0xff && b === 0xfe) return 'UTF-16 (little-endian, with a byte-order mark)';
  if (a === 0xfe && b === 0xff) return 'UTF-16 (big-endian, with a byte-order mark)';
  const pairs = Math.floor(Math.min(bytes.length, 4096) / 2);
  if (pairs < 4) return undefined; // too little to tell
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (bytes[i] === 0) evenZeros++;
    if (bytes[i + 1] === 0) oddZeros++;
  }
  // YAML is mostly ASCII: in UTF-16 every other byte is NUL.
  if (oddZeros >= pairs * 0.3 && evenZeros <= pairs * 0.05) return 'UTF-16 (little-endian, without a byte-order mark)';
  if (evenZeros >= pairs * 0.3 && oddZeros <= pairs * 0.05) return 'UTF-16 (big-endian, without a byte-order mark)';
  return undefined;
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates). */
function firstInvalidUtf8(bytes: Buffer): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return bytes.length;
}

/** 1-based line and column (in characters, the valid UTF-8 before the offset decoded) of a byte offset. */
function position(bytes: Buffer, offset: number): { line: number; column: number } {
  const lineStart = offset === 0 ? 0 : bytes.lastIndexOf(0x0a, offset - 1) + 1;
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  return { line, column: bytes.toString('utf8', lineStart, offset).length + 1 };
}
