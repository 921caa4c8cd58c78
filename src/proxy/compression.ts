import { constants, createBrotliCompress, createBrotliDecompress, createDeflate, createGunzip, createGzip, createInflate } from 'node:zlib';
import { qualityList } from '../http/quality.ts';

export type ContentCoding = 'gzip' | 'deflate' | 'br';
type StreamFactory = () => NodeJS.ReadWriteStream;

const DECODERS: Record<ContentCoding, StreamFactory> = {
  gzip: createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/*
 * Fastest levels: the proxy re-encodes only a body it had to decode for rewriting, on its
 * way to a gateway on the LAN, where CPU time matters more than the last few percent of size.
 */
const ENCODERS: Record<ContentCoding, StreamFactory> = {
  gzip: () => createGzip({ level: constants.Z_BEST_SPEED }),
  deflate: () => createDeflate({ level: constants.Z_BEST_SPEED }),
  br: () => createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }),
};

/** The coding named by a Content-Encoding value: identity, one the proxy can decode, or unknown (left alone). */
export function contentCodingOf(value: string | undefined): ContentCoding | 'identity' | undefined {
  const coding = value?.trim().toLowerCase() ?? '';
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'x-gzip') return 'gzip';
  // Own keys only: `in` also finds constructor and __proto__, which an upstream can send as a coding.
  return Object.hasOwn(DECODERS, coding) ? (coding as ContentCoding) : undefined;
}

export function decoderFor(coding: ContentCoding): NodeJS.ReadWriteStream {
  return DECODERS[coding]();
}

export function encoderFor(coding: ContentCoding): NodeJS.ReadWriteStream {
  return ENCODERS[coding]();
}

/**
 * The coding to send a client that said `acceptEncoding`: the upstream's own coding when
 * the client takes it, else gzip, deflate or br in that order; undefined for identity.
 */
export function negotiateCoding(acceptEncoding: string | undefined, preferred: ContentCoding): ContentCoding | undefined {
  if (!acceptEncoding) return undefined;
  const weights = new Map<string, number>();
  for (const { value: name, weight } of qualityList(acceptEncoding)) {
    if (!name) continue;
    weights.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(weight) ? weight : 0);
  }
  const accepts = (coding: ContentCoding) => (weights.get(coding) ?? weights.get('*') ?? 0) > 0;
  return [preferred, 'gzip', 'deflate', 'br'].find((coding) => accepts(coding as ContentCoding)) as ContentCoding | undefined;
}
