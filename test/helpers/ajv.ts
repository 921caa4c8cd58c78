import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** The committed proxy.schema.json as an editor's YAML language server reads it: compiled by ajv (draft 2020-12, strict, with formats). */
export function committedSchemaValidator() {
  const schema = JSON.parse(readFileSync(new URL('../../proxy.schema.json', import.meta.url), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  (addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
  const validate = ajv.compile(schema);
  return (data: unknown): string[] =>
    validate(data)
      ? []
      : (validate.errors ?? []).map(
          (error) => `${error.instancePath || '/'} ${error.message ?? ''}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`,
        );
}
