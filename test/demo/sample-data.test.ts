import t from 'tap';
import { METADATA_XML, samplePeople, sampleProducts, type Row } from '../../src/demo/sample-data.ts';

/** Each <Property> of an EntityType in $metadata: name, Edm type and its other attributes. */
function declared(type: string): Array<{ name: string; type: string; attributes: string }> {
  const body = new RegExp(`<EntityType Name="${type}">([\\s\\S]*?)</EntityType>`).exec(METADATA_XML)?.[1] ?? '';
  return [...body.matchAll(/<Property Name="(\w+)" Type="([\w.]+)"([^/]*)\/>/g)].map(([, name, edmType, attributes]) => ({ name: name!, type: edmType!, attributes: attributes!.trim() }));
}

/** Whether a JSON value is what OData JSON carries for an Edm type, as Power BI reads it. */
function fits(edmType: string, attributes: string, value: unknown): boolean {
  switch (edmType) {
    case 'Edm.Int32':
      return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31;
    case 'Edm.String':
      return typeof value === 'string' && value !== '';
    case 'Edm.Boolean':
      return typeof value === 'boolean';
    case 'Edm.Date':
      // A real calendar day: 2021-02-30 would not survive the round trip.
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
    case 'Edm.Decimal': {
      const scale = Number(/Scale="(\d+)"/.exec(attributes)?.[1] ?? 0);
      return typeof value === 'number' && Number.isFinite(value) && Number((value * 10 ** scale).toFixed(6)) % 1 === 0;
    }
    default:
      return false;
  }
}

t.test('35 people and 12 products, numbered from 1 in order: more than one page of each', async (t) => {
  const people = samplePeople();
  const products = sampleProducts();
  t.equal(people.length, 35, 'four pages of ten, the last one short');
  t.equal(products.length, 12, 'more than the default page size of ten');
  t.same(
    people.map((person) => person.Id),
    Array.from({ length: 35 }, (_, i) => i + 1),
  );
  t.same(
    products.map((product) => product.Id),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
});

t.test('every value is what its $metadata type promises, and each key property is declared as the key', async (t) => {
  const sets: Array<[string, readonly Row[]]> = [
    ['Person', samplePeople()],
    ['Product', sampleProducts()],
  ];
  for (const [type, rows] of sets) {
    const properties = declared(type);
    t.same(
      properties.map((property) => property.name),
      Object.keys(rows[0]!),
      `${type}: the properties, in the order of the data`,
    );
    t.match(METADATA_XML, new RegExp(`<EntityType Name="${type}">\\s*<Key><PropertyRef Name="Id"/></Key>`), `${type} is keyed by Id`);
    const wrong = rows.flatMap((row) =>
      properties.filter(({ name, type: edmType, attributes }) => !fits(edmType, attributes, row[name])).map(({ name }) => `${type} ${row.Id} ${name}=${JSON.stringify(row[name])}`),
    );
    t.same(wrong, [], `${type}: no value outside its type`);
  }
});

t.test('the $metadata names each entity set with a type it defines, in one balanced document', async (t) => {
  const sets = [...METADATA_XML.matchAll(/<EntitySet Name="(\w+)" EntityType="Demo\.(\w+)"\/>/g)].map(([, set, type]) => [set, type]);
  t.same(sets, [
    ['People', 'Person'],
    ['Products', 'Product'],
  ]);
  t.match(METADATA_XML, /^<\?xml version="1\.0" encoding="utf-8"\?>\n<edmx:Edmx Version="4\.0"/);
  t.match(METADATA_XML, /<Schema Namespace="Demo" /);
  // Every element opened is closed, in order: a reader of $metadata stops at the first that is not.
  const open: string[] = [];
  for (const [, closing, name, selfClosing] of METADATA_XML.matchAll(/<(\/?)([\w:]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) open.push(name!);
    else t.equal(open.pop(), name, `</${name}> closes what was opened last`);
  }
  t.same(open, [], 'nothing left open');
});

t.test('people have unique e-mail addresses and join on distinct days, in order', async (t) => {
  const people = samplePeople();
  t.equal(new Set(people.map((person) => person.Email)).size, people.length, 'no address twice');
  t.ok(
    people.every((person) => /^[a-z]+\.[a-z]+\d+@example\.com$/.test(person.Email)),
    'lower-case, on the reserved example.com domain',
  );
  const days = people.map((person) => person.Joined);
  t.same([...days].sort(), days, 'ascending');
  t.equal(new Set(days).size, days.length, 'distinct');
  t.ok(new Set(people.map((person) => person.Country)).size > 1, 'from more than one country, to filter by');
});

t.test('products come in both categories and both stock states, with prices to the cent', async (t) => {
  const products = sampleProducts();
  t.same(new Set(products.map((product) => product.Category)), new Set(['Hardware', 'Accessories']));
  t.same(new Set(products.map((product) => product.InStock)), new Set([true, false]));
  t.same(
    products.slice(0, 3).map((product) => product.Price),
    [9.5, 16.75, 24],
    'cents, not floating-point noise',
  );
});

t.test('each call makes new rows: a caller that changes them changes no one else’s', async (t) => {
  const first = samplePeople();
  const second = samplePeople();
  t.same(first, second, 'the same data every run');
  t.not(first, second);
  first[0]!.Name = 'changed';
  first.pop();
  t.equal(samplePeople()[0]!.Name, second[0]!.Name);
  t.equal(samplePeople().length, 35);
  const products = sampleProducts();
  products[0]!.Price = -1;
  t.equal(sampleProducts()[0]!.Price, 9.5);
});
