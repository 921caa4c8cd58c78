/** Response bodies shared by the Node upstream (bench/upstream.ts) and the nginx one (bench/comparators.ts). */

/** Size of the small OData-style JSON answer, as issue 19's measurements used. */
export const SMALL_BODY_BYTES = 2300;

export const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8';

/** ~2.3 KB of OData JSON whose links name the upstream at `base`, so a rewriting proxy has work to do. */
export function smallBody(base: string): Buffer {
  const rows = [];
  for (let id = 1; id <= 12; id++) {
    rows.push({ Id: id, Name: `Customer ${id}`, City: 'Utrecht', Country: 'NL', Revenue: 1234.5 * id, Active: id % 2 === 0 });
  }
  const body = JSON.stringify({ '@odata.context': `${base}/api/$metadata#Customers`, value: rows, '@odata.nextLink': `${base}/api/Customers?$skiptoken=12` });
  // Padded with a field real services also send, so the size matches the scenario.
  const padded = `${body.slice(0, -1)},"Note":"${'n'.repeat(Math.max(0, SMALL_BODY_BYTES - body.length - 10))}"}`;
  return Buffer.from(padded);
}
