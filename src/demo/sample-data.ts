/** One entity as JSON: a type alias rather than an interface so Person and Product fit it. */
export type Row = Readonly<Record<string, string | number | boolean>>;

export type Person = {
  Id: number;
  Name: string;
  Email: string;
  Country: string;
  /** Edm.Date, YYYY-MM-DD */
  Joined: string;
};

export type Product = {
  Id: number;
  Name: string;
  Category: string;
  Price: number;
  InStock: boolean;
};

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Frances', 'Dennis', 'Radia', 'Niklaus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Allen', 'Ritchie', 'Perlman', 'Wirth'];
const COUNTRIES = ['GB', 'US', 'NL', 'CH', 'DE', 'FR', 'NO'];

/** 35 people, the same every run: enough for four pages of ten. */
export function samplePeople(): Person[] {
  return Array.from({ length: 35 }, (_, index) => {
    const first = FIRST[index % FIRST.length]!;
    const last = LAST[(index * 5) % LAST.length]!;
    const day = new Date(Date.UTC(2020, 0, 1) + index * 17 * 86_400_000);
    return {
      Id: index + 1,
      Name: `${first} ${last}`,
      Email: `${first}.${last}${index + 1}@example.com`.toLowerCase(),
      Country: COUNTRIES[index % COUNTRIES.length]!,
      Joined: day.toISOString().slice(0, 10),
    };
  });
}

/** 12 products: more than one page at the default page size too. */
export function sampleProducts(): Product[] {
  const names = ['Widget', 'Gadget', 'Sprocket', 'Gizmo', 'Doohickey', 'Thingamajig'];
  return Array.from({ length: 12 }, (_, index) => ({
    Id: index + 1,
    Name: `${names[index % names.length]} ${index < 6 ? 'Standard' : 'Pro'}`,
    Category: index % 2 === 0 ? 'Hardware' : 'Accessories',
    Price: Math.round((9.5 + index * 7.25) * 100) / 100,
    InStock: index % 3 !== 0,
  }));
}

export const METADATA_XML = `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Demo" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Person">
        <Key><PropertyRef Name="Id"/></Key>
        <Property Name="Id" Type="Edm.Int32" Nullable="false"/>
        <Property Name="Name" Type="Edm.String"/>
        <Property Name="Email" Type="Edm.String"/>
        <Property Name="Country" Type="Edm.String"/>
        <Property Name="Joined" Type="Edm.Date"/>
      </EntityType>
      <EntityType Name="Product">
        <Key><PropertyRef Name="Id"/></Key>
        <Property Name="Id" Type="Edm.Int32" Nullable="false"/>
        <Property Name="Name" Type="Edm.String"/>
        <Property Name="Category" Type="Edm.String"/>
        <Property Name="Price" Type="Edm.Decimal" Scale="2"/>
        <Property Name="InStock" Type="Edm.Boolean"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="People" EntityType="Demo.Person"/>
        <EntitySet Name="Products" EntityType="Demo.Product"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`;
