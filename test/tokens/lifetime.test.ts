import t from 'tap';
import { tokenLifetimeMs } from '../../src/tokens/lifetime.ts';
import { parseRetryAfter } from '../../src/tokens/token.ts';

const now = Date.parse('2024-05-01T12:00:00Z');
const limits = { defaultMs: 3_600_000, maxMs: 86_400_000 };

t.test('expires_in first, then expires_on in any form the Azure endpoints send, then the default', async (t) => {
  t.equal(tokenLifetimeMs({ expires_in: '3599', expires_on: String(now / 1000 + 60) }, now, limits), 3_599_000, 'expires_in wins (IMDS sends both, as strings)');
  t.equal(tokenLifetimeMs({ expires_on: now / 1000 + 600 }, now, limits), 600_000, 'epoch seconds as a number');
  t.equal(tokenLifetimeMs({ expires_on: String(now / 1000 + 600) }, now, limits), 600_000, 'epoch seconds as a string (App Service 2019-08-01)');
  t.equal(tokenLifetimeMs({ expires_on: '05/01/2024 01:00:00 PM +00:00' }, now, limits), 3_600_000, 'a date string (App Service 2017-09-01)');
  t.equal(tokenLifetimeMs({ expires_on: '2024-05-01T12:30:00Z' }, now, limits), 1_800_000, 'an ISO date');
  t.equal(tokenLifetimeMs({ expires_on: 'soon' }, now, limits), 3_600_000, 'unreadable: the default');
  t.equal(tokenLifetimeMs({ expires_on: '05/01/2024 11:00:00 AM +00:00' }, now, limits), 3_600_000, 'in the past: the default');
  t.equal(tokenLifetimeMs({ expires_on: ' ' }, now, limits), 3_600_000, 'blank: the default');
  t.equal(tokenLifetimeMs({ expires_on: '01/01/2099 00:00:00 AM +00:00' }, now, limits), 86_400_000, 'never beyond maxLifetime');
});

t.test('Retry-After as seconds or an HTTP date', async (t) => {
  t.equal(parseRetryAfter('30', now), 30_000);
  t.equal(parseRetryAfter('Wed, 01 May 2024 12:00:45 GMT', now), 45_000);
  t.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now), 0, 'a date gone by: now');
  t.equal(parseRetryAfter(null, now), undefined);
  t.equal(parseRetryAfter('later', now), undefined);
});
