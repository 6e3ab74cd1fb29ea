/**
 * What walcast knows about a PostgreSQL type: enough to pick a decoder for pgoutput's text
 * representation and an Avro schema for it. Built-in types are known by OID; others
 * (enums, domains, user arrays, extension types such as hstore) are read from pg_type.
 */
export interface PgType {
  oid: number;
  /** Type name as PostgreSQL prints it, e.g. `int8`, `_text`, `mood`, `hstore`. */
  name: string;
  /** Schema the type lives in (`pg_catalog` for built-ins). */
  namespace: string;
  /** pg_type.typtype: b base, e enum, d domain, r range, m multirange, c composite, p pseudo. */
  kind: 'b' | 'e' | 'd' | 'r' | 'm' | 'c' | 'p';
  /** For arrays (typcategory 'A'): the element type OID. */
  elementOid?: number;
  /** For domains: the base type OID. */
  baseOid?: number;
  /**
   * For domains: pg_type.typtypmod, the base type's typmod the domain declares (numeric(10,2) in
   * `CREATE DOMAIN price AS numeric(10,2)`); -1 or absent when none. Columns of a domain type
   * have atttypmod -1, so without it the codec falls back to the unconstrained base type.
   */
  baseTypeMod?: number;
  /** For enums: labels in sort order. */
  enumLabels?: string[];
  /** pg_type.typdelim of the element type for arrays (',' for all but box). */
  delimiter?: string;
}

/** A column as pgoutput's Relation message describes it. */
export interface PgColumn {
  name: string;
  typeOid: number;
  /** atttypmod: precision/scale for numeric, length for varchar, -1 when unset. */
  typeMod: number;
  /** Part of the replica identity (primary key unless REPLICA IDENTITY says otherwise). */
  isKey: boolean;
  /**
   * pg_attribute.attndims for array columns (pgoutput does not send it; read it from the
   * catalog). Pass it to codecFor as `arrayDimensions`: the Avro schema nests that deep.
   */
  dimensions?: number;
}
