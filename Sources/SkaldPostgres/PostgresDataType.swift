/// A Postgres type, identified by its OID.
///
/// Binds send the OID so the server parses the text with the right type; `.unspecified`
/// (OID 0) lets the server infer the type from context, which is what strings use so
/// that they can be bound to `text`, `varchar`, enums and domains alike.
public struct PostgresDataType: Sendable, Hashable, CustomStringConvertible {
    /// The type's OID in `pg_type`.
    public let oid: UInt32

    /// Wraps a raw OID, e.g. one read from `pg_type` for a user-defined type.
    public init(oid: UInt32) { self.oid = oid }

    /// Let the server infer the type from where the parameter is used.
    public static let unspecified = PostgresDataType(oid: 0)
    /// `bool`
    public static let bool = PostgresDataType(oid: 16)
    /// `bytea`
    public static let bytea = PostgresDataType(oid: 17)
    /// `"char"` (the one-byte internal type)
    public static let char = PostgresDataType(oid: 18)
    /// `name`
    public static let name = PostgresDataType(oid: 19)
    /// `int8` / `bigint`
    public static let int8 = PostgresDataType(oid: 20)
    /// `int2` / `smallint`
    public static let int2 = PostgresDataType(oid: 21)
    /// `int4` / `integer`
    public static let int4 = PostgresDataType(oid: 23)
    /// `text`
    public static let text = PostgresDataType(oid: 25)
    /// `oid`
    public static let oidType = PostgresDataType(oid: 26)
    /// `json`
    public static let json = PostgresDataType(oid: 114)
    /// `float4` / `real`
    public static let float4 = PostgresDataType(oid: 700)
    /// `float8` / `double precision`
    public static let float8 = PostgresDataType(oid: 701)
    /// `unknown` (an untyped literal such as `SELECT 'a'`)
    public static let unknown = PostgresDataType(oid: 705)
    /// `bpchar` / `char(n)`
    public static let bpchar = PostgresDataType(oid: 1042)
    /// `varchar`
    public static let varchar = PostgresDataType(oid: 1043)
    /// `date`
    public static let date = PostgresDataType(oid: 1082)
    /// `timestamp` (without time zone)
    public static let timestamp = PostgresDataType(oid: 1114)
    /// `timestamptz`
    public static let timestamptz = PostgresDataType(oid: 1184)
    /// `numeric`
    public static let numeric = PostgresDataType(oid: 1700)
    /// `uuid`
    public static let uuid = PostgresDataType(oid: 2950)
    /// `jsonb`
    public static let jsonb = PostgresDataType(oid: 3802)
    /// `bool[]`
    public static let boolArray = PostgresDataType(oid: 1000)
    /// `int2[]` / `smallint[]`
    public static let int2Array = PostgresDataType(oid: 1005)
    /// `int4[]` / `integer[]`
    public static let int4Array = PostgresDataType(oid: 1007)
    /// `text[]`
    public static let textArray = PostgresDataType(oid: 1009)
    /// `int8[]` / `bigint[]`
    public static let int8Array = PostgresDataType(oid: 1016)
    /// `json[]`
    public static let jsonArray = PostgresDataType(oid: 199)
    /// `timestamptz[]`
    public static let timestamptzArray = PostgresDataType(oid: 1185)

    /// The SQL name of well-known types, or `oid <n>` for others.
    public var description: String {
        switch oid {
        case 0: return "unspecified"
        case 16: return "bool"
        case 17: return "bytea"
        case 18: return "\"char\""
        case 19: return "name"
        case 20: return "int8"
        case 21: return "int2"
        case 23: return "int4"
        case 25: return "text"
        case 26: return "oid"
        case 114: return "json"
        case 700: return "float4"
        case 701: return "float8"
        case 705: return "unknown"
        case 1042: return "bpchar"
        case 1043: return "varchar"
        case 1082: return "date"
        case 1114: return "timestamp"
        case 1184: return "timestamptz"
        case 1700: return "numeric"
        case 1000: return "bool[]"
        case 1005: return "int2[]"
        case 1007: return "int4[]"
        case 1009: return "text[]"
        case 1016: return "int8[]"
        case 199: return "json[]"
        case 1185: return "timestamptz[]"
        case 2950: return "uuid"
        case 3802: return "jsonb"
        default: return "oid \(oid)"
        }
    }

    /// Types whose text form is just a string: what `String` decodes without surprises.
    var isTextLike: Bool {
        switch oid {
        case 18, 19, 25, 705, 1042, 1043: return true
        default: return oid >= 16384  // user-defined types such as enums
        }
    }
}
