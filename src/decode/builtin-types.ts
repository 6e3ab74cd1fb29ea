import type { PgType } from './pg-type.ts';

// Built-in types of PostgreSQL 15's pg_catalog (OIDs are fixed across versions >= 14), as
// `oid:typname:typtype`. Generated from pg_type; int2vector and oidvector are listed as base
// types on purpose: their category is 'A' but their text form is space-separated, not an array
// literal. Types added in later major versions reach walcast through the lookup function instead.
const BASE = [
  '16:bool:b', '17:bytea:b', '18:char:b', '19:name:b', '20:int8:b', '21:int2:b', '22:int2vector:b',
  '23:int4:b', '24:regproc:b', '25:text:b', '26:oid:b', '27:tid:b', '28:xid:b', '29:cid:b',
  '30:oidvector:b', '114:json:b', '142:xml:b', '194:pg_node_tree:b', '600:point:b', '601:lseg:b',
  '602:path:b', '603:box:b', '604:polygon:b', '628:line:b', '650:cidr:b', '700:float4:b',
  '701:float8:b', '718:circle:b', '774:macaddr8:b', '790:money:b', '829:macaddr:b', '869:inet:b',
  '1033:aclitem:b', '1042:bpchar:b', '1043:varchar:b', '1082:date:b', '1083:time:b',
  '1114:timestamp:b', '1184:timestamptz:b', '1186:interval:b', '1266:timetz:b', '1560:bit:b',
  '1562:varbit:b', '1700:numeric:b', '1790:refcursor:b', '2202:regprocedure:b', '2203:regoper:b',
  '2204:regoperator:b', '2205:regclass:b', '2206:regtype:b', '2950:uuid:b', '2970:txid_snapshot:b',
  '3220:pg_lsn:b', '3361:pg_ndistinct:b', '3402:pg_dependencies:b', '3614:tsvector:b',
  '3615:tsquery:b', '3642:gtsvector:b', '3734:regconfig:b', '3769:regdictionary:b', '3802:jsonb:b',
  '3904:int4range:r', '3906:numrange:r', '3908:tsrange:r', '3910:tstzrange:r', '3912:daterange:r',
  '3926:int8range:r', '4072:jsonpath:b', '4089:regnamespace:b', '4096:regrole:b',
  '4191:regcollation:b', '4451:int4multirange:m', '4532:nummultirange:m', '4533:tsmultirange:m',
  '4534:tstzmultirange:m', '4535:datemultirange:m', '4536:int8multirange:m',
  '4600:pg_brin_bloom_summary:b', '4601:pg_brin_minmax_multi_summary:b', '5017:pg_mcv_list:b',
  '5038:pg_snapshot:b', '5069:xid8:b',
];

// Arrays as `oid:typname:element oid[:delimiter]` (the delimiter only where it is not a comma).
const ARRAYS = [
  '143:_xml:142', '199:_json:114', '271:_xid8:5069', '629:_line:628', '651:_cidr:650',
  '719:_circle:718', '775:_macaddr8:774', '791:_money:790', '1000:_bool:16', '1001:_bytea:17',
  '1002:_char:18', '1003:_name:19', '1005:_int2:21', '1006:_int2vector:22', '1007:_int4:23',
  '1008:_regproc:24', '1009:_text:25', '1010:_tid:27', '1011:_xid:28', '1012:_cid:29',
  '1013:_oidvector:30', '1014:_bpchar:1042', '1015:_varchar:1043', '1016:_int8:20',
  '1017:_point:600', '1018:_lseg:601', '1019:_path:602', '1020:_box:603:;', '1021:_float4:700',
  '1022:_float8:701', '1027:_polygon:604', '1028:_oid:26', '1034:_aclitem:1033',
  '1040:_macaddr:829', '1041:_inet:869', '1115:_timestamp:1114', '1182:_date:1082',
  '1183:_time:1083', '1185:_timestamptz:1184', '1187:_interval:1186', '1231:_numeric:1700',
  '1270:_timetz:1266', '1561:_bit:1560', '1563:_varbit:1562', '2201:_refcursor:1790',
  '2207:_regprocedure:2202', '2208:_regoper:2203', '2209:_regoperator:2204', '2210:_regclass:2205',
  '2211:_regtype:2206', '2949:_txid_snapshot:2970', '2951:_uuid:2950', '3221:_pg_lsn:3220',
  '3643:_tsvector:3614', '3644:_gtsvector:3642', '3645:_tsquery:3615', '3735:_regconfig:3734',
  '3770:_regdictionary:3769', '3807:_jsonb:3802', '3905:_int4range:3904', '3907:_numrange:3906',
  '3909:_tsrange:3908', '3911:_tstzrange:3910', '3913:_daterange:3912', '3927:_int8range:3926',
  '4073:_jsonpath:4072', '4090:_regnamespace:4089', '4097:_regrole:4096',
  '4192:_regcollation:4191', '5039:_pg_snapshot:5038', '6150:_int4multirange:4451',
  '6151:_nummultirange:4532', '6152:_tsmultirange:4533', '6153:_tstzmultirange:4534',
  '6155:_datemultirange:4535', '6157:_int8multirange:4536',
];

function build(): Map<number, PgType> {
  const table = new Map<number, PgType>();
  for (const row of BASE) {
    const [oid, name, kind] = row.split(':') as [string, string, PgType['kind']];
    table.set(Number(oid), Object.freeze({ oid: Number(oid), name, namespace: 'pg_catalog', kind }));
  }
  for (const row of ARRAYS) {
    const [oid, name, element, delimiter = ','] = row.split(':') as [string, string, string, string?];
    table.set(
      Number(oid),
      Object.freeze({ oid: Number(oid), name, namespace: 'pg_catalog', kind: 'b', elementOid: Number(element), delimiter }),
    );
  }
  return table;
}

const BUILTIN = build();

/** The built-in type with this OID (base, range, multirange and array types), or undefined. */
export function builtinType(oid: number): PgType | undefined {
  return BUILTIN.get(oid);
}

/** OIDs walcast's codecs switch on. Named so the mapping in codec.ts reads as type names. */
export const Oid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  xid: 28,
  cid: 29,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  money: 790,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  bit: 1560,
  varbit: 1562,
  numeric: 1700,
  uuid: 2950,
  tsvector: 3614,
  jsonb: 3802,
} as const;
