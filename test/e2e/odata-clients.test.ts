import { OData } from '@odata/client';
import type { ODataNewOptions } from '@odata/client/lib/types.js';
import { o } from 'o.js';
import t from 'tap';
import { startCap } from '../helpers/cap.ts';
import { accessTokenFrom, postClientSource, startIdp } from '../helpers/idp.ts';
import { offRoute } from '../helpers/links.ts';
import { startProxy } from '../helpers/proxy.ts';

// Third-party OData clients (@odata/client, "light-odata", and o.js) against a third-party
// server (SAP CAP), once straight to the server with a bearer token in their own headers, as
// users do without the proxy, and once through the proxy with no token at all. Each side has
// its own CAP process (and in-memory database), so the writes of one cannot show in the
// other, and every operation must give the client the same result both ways, links aside.
//
// Not covered, because they fail straight to CAP too:
// - @odata/client's multipart $batch: it looks for capitalised part headers (CAP writes them
//   in lower case), and asks for application/json, which CAP 9 takes as a request for a JSON
//   batch answer. Its OData 4.01 JSON batch works, and is here.
// - o.js's batch with its default useRelativeURLs: false: each part names an absolute URL,
//   which CAP refuses ("Invalid resource path"), its own URL as much as the proxy's. With
//   relative URLs it works, and is here. The proxy passes request bodies as they are, so
//   for an upstream that takes absolute URLs, such a part names the proxy (see README).

const idp = await startIdp();
t.teardown(() => idp.close());
const [direct, behind] = await Promise.all([startCap(idp), startCap(idp)]);
t.teardown(() => Promise.all([direct.close(), behind.close()]));
const proxy = await startProxy({
  tokens: { idp: postClientSource(idp) },
  routes: {
    '/v4': { target: `${behind.url}/odata/v4/sales`, token: 'idp' },
    '/v2': { target: `${behind.url}/odata/v2/sales`, token: 'idp' },
  },
});
t.teardown(() => proxy.close());
const token = await accessTokenFrom(idp);

/** What the client makes of each operation, in order; a failure is recorded (o.js throws the Response), so both sides can be compared. */
type Script<Client> = (client: Client) => Array<() => Promise<unknown>>;

async function run<Client>(client: Client, script: Script<Client>): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const step of script(client)) {
    try {
      results.push(await step());
    } catch (error) {
      results.push({ failed: error instanceof Response ? error.status : (error as Error).message });
    }
  }
  return results;
}

/** The client made for CAP's service straight (with the token in the headers given) and for the proxy's route, each running the script. */
async function bothWays<Client>(version: 'v2' | 'v4', make: (serviceEndpoint: string, headers: Record<string, string>) => Client, script: Script<Client>) {
  const straight = make(`${direct.url}/odata/${version}/sales/`, { Authorization: `Bearer ${token}` });
  const proxied = make(`${proxy.url}/${version}/`, {});
  return { straightResults: await run(straight, script), proxiedResults: await run(proxied, script) };
}

/** Each side's absolute links name its own server or route: one placeholder for both. */
function withoutBase(results: unknown[], base: string): string {
  return JSON.stringify(results).replaceAll(base, '<service>');
}

/** An @odata/client for the version's service. ODataV4 declares itself an OData whose batch answers are typed apart; the scripts use what both have. */
function lightOData(version: 'v2' | 'v4') {
  return (serviceEndpoint: string, commonHeaders: Record<string, string>): OData => {
    const options: ODataNewOptions = { serviceEndpoint, commonHeaders };
    return version === 'v4' ? (OData.New4(options) as unknown as OData) : OData.New(options);
  };
}

/** CAP builds V2 links from the Host it was sent: the name the client used, or the proxy's X-Forwarded-Host. */
function linkBase(results: unknown[], service: string): string {
  const found = /https?:\/\/[^/"]+\/[^"]*?(?=\/Orders\()/.exec(JSON.stringify(results))?.[0];
  if (!found) throw new Error(`no link to ${service} in ${JSON.stringify(results)}`);
  return found;
}

const crud: Script<OData> = (client) => {
  const orders = client.getEntitySet<{ ID: number; customer: string }>('Orders');
  return [
    () => orders.query(client.newOptions().top(3).orderby('ID', 'asc')),
    () => orders.query(client.newFilter().property('customer').eq('Customer 7')),
    () => orders.query(client.newOptions().filter(client.newFilter().property('amount').gt(200)).select(['ID', 'amount'])),
    () => orders.retrieve(2),
    () => orders.count(),
    () => orders.create({ ID: 2001, customer: 'Created by @odata/client' }),
    () => orders.update(2001, { customer: 'Updated by @odata/client' }),
    () => orders.retrieve(2001),
    () => orders.delete(2001),
    () => orders.retrieve(2001),
    () => orders.count(),
  ];
};

t.test('@odata/client, OData V4: queries, filters, counts, creates, updates and deletes the same through the proxy as with the token itself', async (t) => {
  const { straightResults, proxiedResults } = await bothWays('v4', lightOData('v4'), crud);
  t.same(proxiedResults, straightResults, 'every result as straight to CAP');
  t.match(proxiedResults[3], { ID: 2, customer: 'Customer 2' }, 'a read by key');
  t.match(proxiedResults[7], { ID: 2001, customer: 'Updated by @odata/client' }, 'the update is read back');
  t.match(proxiedResults[9], { failed: /./ }, 'the deleted row is gone');
  t.equal(proxiedResults[10], proxiedResults[4], 'and the count is what it was');
});

t.test('@odata/client, OData V2 (CAP’s adapter): the same, and every link the client is given leads to the proxy’s route', async (t) => {
  const { straightResults, proxiedResults } = await bothWays('v2', lightOData('v2'), crud);
  const route = linkBase(proxiedResults, 'the route');
  t.ok(route.endsWith('/v2'), `links name the route: ${route}`);
  t.same(offRoute(JSON.stringify(proxiedResults), route), [], 'no link leaves the route');
  t.equal(withoutBase(proxiedResults, route), withoutBase(straightResults, linkBase(straightResults, 'CAP')), 'every result as straight to CAP, links aside');
  t.match(proxiedResults[7], { ID: 2001, customer: 'Updated by @odata/client' }, 'the update is read back');
});

t.test('@odata/client, OData 4.01 JSON $batch: a read, a create and a read of what was created, in one request', async (t) => {
  const { straightResults, proxiedResults } = await bothWays('v4', lightOData('v4'), (client) => [
    async () => {
      const answers = await client.execBatchRequestsJson([
        client.newBatchRequest({ collection: 'Orders', params: client.newOptions().top(2).orderby('ID', 'asc') }),
        client.newBatchRequest({ collection: 'Orders', method: 'POST', entity: { ID: 3001, customer: 'Batch' } }),
        client.newBatchRequest({ collection: 'Orders', id: 3001 }),
      ]);
      return Promise.all(answers.map(async (answer) => ({ status: answer.status, body: await answer.json() })));
    },
  ]);
  t.same(proxiedResults, straightResults, 'every result as straight to CAP');
  t.match(proxiedResults[0], [{ status: 200 }, { status: 201 }, { status: 200, body: { ID: 3001 } }]);
});

/** An o.js handler for the service; a batch sends the headers of its own config, not the handler's. */
function oJs(serviceEndpoint: string, headers: Record<string, string>) {
  const batch = {
    endpoint: '$batch',
    boundaryPrefix: 'batch_',
    changsetBoundaryPrefix: 'changeset_',
    useChangset: false,
    useRelativeURLs: true,
    headers: new Headers({ 'Content-Type': 'multipart/mixed', ...headers }),
  };
  return o(serviceEndpoint, { headers: new Headers({ 'Content-Type': 'application/json', ...headers }), batch });
}

t.test('o.js, OData V4: queries, a count, and a multipart $batch read back by o.js’s own parser', async (t) => {
  const { straightResults, proxiedResults } = await bothWays('v4', oJs, (client) => [
    () => client.get('Orders').query({ $top: 2, $orderby: 'ID' }),
    () => client.get('Orders').query({ $filter: "customer eq 'Customer 7'", $select: 'ID,customer' }),
    () => client.get('Orders/$count').query(),
    () => client.get('Orders(99)').query(),
    () => client.get('Orders(1)').get('Orders').post('Orders', { ID: 4001, customer: 'Batch by o.js' }).get('Orders(4001)').batch({ $select: 'ID,customer' }),
  ]);
  t.same(proxiedResults, straightResults, 'every result as straight to CAP');
  t.match(proxiedResults[3], { failed: 404 }, 'a missing row is the upstream’s 404');
  t.match(
    proxiedResults[4],
    [
      { status: 200, body: { ID: 1 } },
      { status: 200, body: [{ ID: 1 }, { ID: 2 }] },
      { status: 201, body: { ID: 4001 } },
      { status: 200, body: { ID: 4001, customer: 'Batch by o.js' } },
    ],
    'every part of the batch, as o.js parses it',
  );
});
