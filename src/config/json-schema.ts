import { z } from 'zod';
import { configSchema } from './schema.ts';

/**
 * Where the committed proxy.schema.json is published. Editors fetch a `$schema=` URL; the
 * repository's copy at this address is the one `npm run schema` writes.
 */
export const SCHEMA_ID = 'https://raw.githubusercontent.com/bearer-proxy/bearer-proxy/main/proxy.schema.json';

/** A string value holding a ${NAME} or ${file:PATH} reference, which the loader replaces before validating. */
const REFERENCE = '\\$\\{';

/** What zod's http(s) URL check accepts, as a pattern (the scheme in any case, as the URL parser reads it). */
const HTTP_URL = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#][^\\s]*$';

type Node = { [key: string]: unknown };

/**
 * JSON Schema of proxy.yaml as written, for editors (input side: defaults optional,
 * durations as number or string). Generated from the one zod schema, then made to accept
 * what the loader accepts before the schema runs: a string value with a `${…}` reference
 * is checked after the reference is replaced, so an editor must not refuse
 * `https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token` for not being a URI,
 * nor `${PROXY_HOST}` for not looking like a host name.
 */
export function configJsonSchema(): object {
  const generated = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Node;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'bearer-proxy configuration (proxy.yaml)',
    description: 'The config file of bearer-proxy, a local reverse proxy that injects OAuth2 client_credentials bearer tokens. `bearer-proxy check` validates a file as the proxy does.',
    ...acceptReferences(rest, false),
  };
}

/** Formats and patterns of string values also accept a ${…} reference; key patterns (propertyNames) stay as they are: keys are never interpolated. */
function acceptReferences(node: Node, isKey: boolean): Node {
  const out: Node = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'format' && value === 'uri' && !isKey) continue;
    out[key] = transform(value, isKey || key === 'propertyNames');
  }
  if (isKey || out.type !== 'string') return out;
  if (node.format === 'uri') out.pattern = `${HTTP_URL}|${REFERENCE}`;
  else if (typeof out.pattern === 'string') out.pattern = `(?:${out.pattern})|${REFERENCE}`;
  return out;
}

function transform(value: unknown, isKey: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => transform(item, isKey));
  if (typeof value === 'object' && value !== null) return acceptReferences(value as Node, isKey);
  return value;
}
