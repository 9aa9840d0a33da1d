//! Postgres column types: the mapping from source types, the DDL form, the
//! form read back from the catalog, and which changes are safe widenings.
//!
//! | source ([`ColumnType`]) | Postgres |
//! |---|---|
//! | Bool | `boolean` |
//! | Int16 / Int32 / Int64 | `smallint` / `integer` / `bigint` |
//! | UInt64 | `numeric(20,0)` |
//! | Float32 / Float64 | `real` / `double precision` |
//! | Decimal(p,s) | `numeric(p,s)`; `numeric` when undeclared (VariableScaleDecimal) |
//! | Text(n) | `varchar(n)`, `text` when undeclared |
//! | Bytes | `bytea` |
//! | Date | `date` |
//! | Time(p) / TimeTz(p) | `time(min(p,6))` / `timetz(min(p,6))` |
//! | Timestamp(p) / TimestampTz(p) | `timestamp(min(p,6))` / `timestamptz(min(p,6))` |
//! | Json | `jsonb` |
//! | Uuid | `uuid` |
//! | Enum / Set | `text` |
//! | Bits(n) | `bit varying(n)` |
//! | Geometry | `bytea` (WKB), or PostGIS `geometry` when the extension is installed |
//! | Array(t) | `t[]` |
//! | Unknown | `text` |

use sluice_sink_api::{ColumnType, Value};

/// A Postgres column type sluice understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `numeric(p,s)`; `None` = unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    Float4,
    Float8,
    /// `varchar(n)`; `None` = `varchar` without limit.
    Varchar(Option<u32>),
    /// `character(n)`.
    Char(u32),
    Text,
    Bytea,
    Date,
    Time(u8),
    TimeTz(u8),
    Timestamp(u8),
    TimestampTz(u8),
    Json,
    Jsonb,
    Uuid,
    /// `bit varying(n)`; `None` = unlimited.
    VarBit(Option<u32>),
    Bit(u32),
    /// PostGIS `geometry`.
    Geometry,
    Array(Box<PgType>),
    /// Any other type, by its `format_type` name; values are bound as text and cast.
    Other(String),
}

/// How an existing column relates to the type a new event declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// The column holds every value of the declared type as is.
    Holds,
    /// The column must be widened to this type (a safe `ALTER COLUMN TYPE`).
    Widen(PgType),
    /// No safe change exists (incompatible kinds).
    Incompatible,
}

fn precision(p: u8) -> u8 {
    p.min(6)
}

impl PgType {
    /// The type sluice creates for a declared source type.
    pub fn for_column(column_type: &ColumnType, postgis: bool) -> PgType {
        match column_type {
            ColumnType::Bool => PgType::Bool,
            ColumnType::Int16 => PgType::Int2,
            ColumnType::Int32 => PgType::Int4,
            ColumnType::Int64 => PgType::Int8,
            ColumnType::UInt64 => PgType::Numeric(Some((20, 0))),
            ColumnType::Float32 => PgType::Float4,
            ColumnType::Float64 => PgType::Float8,
            ColumnType::Decimal { precision: Some(p), scale } if *p > 0 && *p <= 1000 => {
                PgType::Numeric(Some((*p, scale.unwrap_or(0).min(*p))))
            }
            ColumnType::Decimal { .. } => PgType::Numeric(None),
            ColumnType::Text { max_length: Some(n) } if *n > 0 && *n <= 10_485_760 => PgType::Varchar(Some(*n)),
            ColumnType::Text { .. } => PgType::Text,
            ColumnType::Bytes { .. } => PgType::Bytea,
            ColumnType::Date => PgType::Date,
            ColumnType::Time { precision: p } => PgType::Time(precision(*p)),
            ColumnType::TimeTz { precision: p } => PgType::TimeTz(precision(*p)),
            ColumnType::Timestamp { precision: p } => PgType::Timestamp(precision(*p)),
            ColumnType::TimestampTz { precision: p } => PgType::TimestampTz(precision(*p)),
            ColumnType::Json => PgType::Jsonb,
            ColumnType::Uuid => PgType::Uuid,
            ColumnType::Enum { .. } | ColumnType::Set { .. } => PgType::Text,
            ColumnType::Bits { length } if *length > 0 => PgType::VarBit(Some(*length)),
            ColumnType::Bits { .. } => PgType::VarBit(None),
            ColumnType::Geometry if postgis => PgType::Geometry,
            ColumnType::Geometry => PgType::Bytea,
            ColumnType::Array { element } => PgType::Array(Box::new(PgType::for_column(element, postgis))),
            ColumnType::Unknown { .. } => PgType::Text,
        }
    }

    /// The type inferred from a value when the event carries no schema.
    /// `None` for NULL and unavailable values (nothing to infer).
    pub fn infer(value: &Value, postgis: bool) -> Option<PgType> {
        Some(match value {
            Value::Null | Value::Unavailable => return None,
            Value::Bool(_) => PgType::Bool,
            Value::Int(_) => PgType::Int8,
            Value::UInt(_) => PgType::Numeric(Some((20, 0))),
            Value::Float(_) => PgType::Float8,
            Value::Decimal(_) => PgType::Numeric(None),
            Value::Text(_) | Value::Enum(_) | Value::Set(_) => PgType::Text,
            Value::Bytes(_) => PgType::Bytea,
            Value::Date(_) => PgType::Date,
            Value::Time { .. } => PgType::Time(6),
            Value::TimeTz { .. } => PgType::TimeTz(6),
            Value::Timestamp { .. } => PgType::Timestamp(6),
            Value::TimestampTz { .. } => PgType::TimestampTz(6),
            Value::Json(_) => PgType::Jsonb,
            Value::Uuid(_) => PgType::Uuid,
            Value::Bits(_) => PgType::VarBit(None),
            Value::Geometry(_) if postgis => PgType::Geometry,
            Value::Geometry(_) => PgType::Bytea,
            Value::Array(items) => {
                PgType::Array(Box::new(items.iter().find_map(|v| PgType::infer(v, postgis)).unwrap_or(PgType::Text)))
            }
        })
    }

    /// The DDL spelling.
    pub fn ddl(&self) -> String {
        match self {
            PgType::Bool => "boolean".into(),
            PgType::Int2 => "smallint".into(),
            PgType::Int4 => "integer".into(),
            PgType::Int8 => "bigint".into(),
            PgType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            PgType::Numeric(None) => "numeric".into(),
            PgType::Float4 => "real".into(),
            PgType::Float8 => "double precision".into(),
            PgType::Varchar(Some(n)) => format!("character varying({n})"),
            PgType::Varchar(None) => "character varying".into(),
            PgType::Char(n) => format!("character({n})"),
            PgType::Text => "text".into(),
            PgType::Bytea => "bytea".into(),
            PgType::Date => "date".into(),
            PgType::Time(p) => format!("time({p}) without time zone"),
            PgType::TimeTz(p) => format!("time({p}) with time zone"),
            PgType::Timestamp(p) => format!("timestamp({p}) without time zone"),
            PgType::TimestampTz(p) => format!("timestamp({p}) with time zone"),
            PgType::Json => "json".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Uuid => "uuid".into(),
            PgType::VarBit(Some(n)) => format!("bit varying({n})"),
            PgType::VarBit(None) => "bit varying".into(),
            PgType::Bit(n) => format!("bit({n})"),
            PgType::Geometry => "geometry".into(),
            PgType::Array(element) => format!("{}[]", element.ddl()),
            PgType::Other(name) => name.clone(),
        }
    }

    /// Parses the output of `format_type(atttypid, atttypmod)`.
    pub fn parse(formatted: &str) -> PgType {
        let text = formatted.trim();
        if let Some(element) = text.strip_suffix("[]") {
            return PgType::Array(Box::new(PgType::parse(element)));
        }
        let (base, args) = match text.find('(') {
            Some(open) => {
                let close = text[open..].find(')').map(|c| open + c).unwrap_or(text.len());
                let base = format!("{}{}", &text[..open], &text[(close + 1).min(text.len())..]);
                let args: Vec<u32> = text[open + 1..close].split(',').filter_map(|a| a.trim().parse().ok()).collect();
                (base, args)
            }
            None => (text.to_string(), Vec::new()),
        };
        let base = base.trim();
        let p = |default: u8| args.first().map(|p| *p as u8).unwrap_or(default);
        match base {
            "boolean" => PgType::Bool,
            "smallint" => PgType::Int2,
            "integer" => PgType::Int4,
            "bigint" => PgType::Int8,
            "numeric" => match args.as_slice() {
                [p] => PgType::Numeric(Some((*p, 0))),
                [p, s] => PgType::Numeric(Some((*p, *s))),
                _ => PgType::Numeric(None),
            },
            "real" => PgType::Float4,
            "double precision" => PgType::Float8,
            "character varying" => PgType::Varchar(args.first().copied()),
            "character" => PgType::Char(args.first().copied().unwrap_or(1)),
            "text" => PgType::Text,
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time without time zone" => PgType::Time(p(6)),
            "time with time zone" => PgType::TimeTz(p(6)),
            "timestamp without time zone" => PgType::Timestamp(p(6)),
            "timestamp with time zone" => PgType::TimestampTz(p(6)),
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "uuid" => PgType::Uuid,
            "bit varying" => PgType::VarBit(args.first().copied()),
            "bit" => PgType::Bit(args.first().copied().unwrap_or(1)),
            "geometry" => PgType::Geometry,
            _ => PgType::Other(text.to_string()),
        }
    }

    /// Integer digits and scale of a numeric-like type (`None` = unbounded).
    /// `capacity`: digits every value of that many digits fits in (an
    /// existing column); otherwise the digits its values may need (a declaration).
    fn numeric_shape(&self, capacity: bool) -> Option<Option<(u32, u32)>> {
        let int = |need: u32| Some(Some((if capacity { need - 1 } else { need }, 0)));
        match self {
            PgType::Int2 => int(5),
            PgType::Int4 => int(10),
            PgType::Int8 => int(19),
            PgType::Numeric(shape) => Some(shape.map(|(p, s)| (p - s.min(p), s))),
            _ => None,
        }
    }

    fn text_length(&self) -> Option<Option<u32>> {
        match self {
            PgType::Varchar(n) => Some(*n),
            PgType::Text => Some(None),
            _ => None,
        }
    }

    /// How this (existing) column type relates to `declared`, the type a new
    /// event's schema maps to. See [`Fit`].
    pub fn fit(&self, declared: &PgType) -> Fit {
        use PgType::*;
        if self == declared {
            return Fit::Holds;
        }
        // text holds the textual form of anything
        if *self == Text {
            return Fit::Holds;
        }
        let rank = |t: &PgType| match t {
            Int2 => Some(1),
            Int4 => Some(2),
            Int8 => Some(3),
            _ => None,
        };
        match (self, declared) {
            (a, b) if rank(a).is_some() && rank(b).is_some() => {
                if rank(a) >= rank(b) {
                    Fit::Holds
                } else {
                    Fit::Widen(b.clone())
                }
            }
            (a, b) if a.numeric_shape(true).is_some() && b.numeric_shape(false).is_some() => {
                let (Some(have), Some(want)) = (a.numeric_shape(true).flatten(), b.numeric_shape(false).flatten())
                else {
                    // one side unbounded numeric
                    return if matches!(a, Numeric(None)) { Fit::Holds } else { Fit::Widen(Numeric(None)) };
                };
                let (int_digits, scale) = (have.0.max(want.0), have.1.max(want.1));
                if int_digits == have.0 && scale == have.1 {
                    Fit::Holds
                } else if rank(a).is_some() && rank(b).is_some() {
                    Fit::Widen(b.clone())
                } else {
                    Fit::Widen(Numeric(Some((int_digits + scale, scale))))
                }
            }
            (Float8, Float4 | Int2 | Int4) | (Float4, Int2) => Fit::Holds,
            (Float4, Float8) => Fit::Widen(Float8),
            (a, b) if a.text_length().is_some() && (b.text_length().is_some() || matches!(b, Char(_))) => {
                let want = match b {
                    Char(n) => Some(*n),
                    other => other.text_length().flatten(),
                };
                match (a.text_length().flatten(), want) {
                    (None, _) => Fit::Holds,
                    (Some(_), None) => Fit::Widen(Text),
                    (Some(have), Some(want)) if have >= want => Fit::Holds,
                    (Some(_), Some(want)) => Fit::Widen(Varchar(Some(want))),
                }
            }
            (Time(a), Time(b)) if a >= b => Fit::Holds,
            (Time(_), Time(b)) => Fit::Widen(Time(*b)),
            (TimeTz(a), TimeTz(b)) if a >= b => Fit::Holds,
            (TimeTz(_), TimeTz(b)) => Fit::Widen(TimeTz(*b)),
            (Timestamp(a), Timestamp(b)) if a >= b => Fit::Holds,
            (Timestamp(_), Timestamp(b)) => Fit::Widen(Timestamp(*b)),
            (TimestampTz(a), TimestampTz(b)) if a >= b => Fit::Holds,
            (TimestampTz(_), TimestampTz(b)) => Fit::Widen(TimestampTz(*b)),
            (VarBit(None), VarBit(_) | Bit(_)) => Fit::Holds,
            (VarBit(Some(a)), VarBit(Some(b)) | Bit(b)) if a >= b => Fit::Holds,
            (VarBit(Some(_)), VarBit(b)) => Fit::Widen(VarBit(*b)),
            (VarBit(Some(_)), Bit(b)) => Fit::Widen(VarBit(Some(*b))),
            (Jsonb, Json) | (Json, Jsonb) => Fit::Holds,
            (Bytea, Geometry) => Fit::Holds,
            // bytea holds the UTF-8 bytes of any text, NUL included (which text
            // columns cannot store): an operator may retype a column to bytea
            (Bytea, b) if b.text_length().is_some() || matches!(b, Char(_)) => Fit::Holds,
            (Other(_), _) => Fit::Holds, // user-defined target types: values are cast, errors reject rows
            _ => Fit::Incompatible,
        }
    }

    /// True when values of `self` can always be stored in `other` (used to
    /// tell a source type narrowing: the new declaration is strictly narrower
    /// than the previous one).
    pub fn narrower_than(&self, previous: &PgType) -> bool {
        self != previous && matches!(previous.fit(self), Fit::Holds) && !matches!(self.fit(previous), Fit::Holds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_ddl() {
        for t in [
            PgType::Bool,
            PgType::Int2,
            PgType::Int8,
            PgType::Numeric(Some((20, 0))),
            PgType::Numeric(Some((10, 2))),
            PgType::Numeric(None),
            PgType::Varchar(Some(10)),
            PgType::Text,
            PgType::Time(3),
            PgType::TimeTz(6),
            PgType::Timestamp(0),
            PgType::TimestampTz(6),
            PgType::Jsonb,
            PgType::VarBit(Some(5)),
            PgType::Array(Box::new(PgType::Int8)),
            PgType::Float8,
        ] {
            assert_eq!(PgType::parse(&t.ddl()), t, "{}", t.ddl());
        }
    }

    #[test]
    fn widening_rules() {
        assert_eq!(PgType::Int4.fit(&PgType::Int8), Fit::Widen(PgType::Int8));
        assert_eq!(PgType::Int8.fit(&PgType::Int4), Fit::Holds);
        assert_eq!(PgType::Varchar(Some(10)).fit(&PgType::Varchar(Some(20))), Fit::Widen(PgType::Varchar(Some(20))));
        assert_eq!(PgType::Varchar(Some(10)).fit(&PgType::Text), Fit::Widen(PgType::Text));
        assert_eq!(
            PgType::Numeric(Some((10, 2))).fit(&PgType::Numeric(Some((12, 4)))),
            Fit::Widen(PgType::Numeric(Some((12, 4))))
        );
        assert_eq!(PgType::Numeric(Some((10, 2))).fit(&PgType::Numeric(Some((5, 1)))), Fit::Holds);
        assert_eq!(PgType::Int8.fit(&PgType::Numeric(Some((20, 0)))), Fit::Widen(PgType::Numeric(Some((20, 0)))));
        assert_eq!(PgType::Int4.fit(&PgType::Text), Fit::Incompatible);
        assert_eq!(PgType::Bytea.fit(&PgType::Varchar(Some(100))), Fit::Holds);
        assert_eq!(PgType::Bytea.fit(&PgType::Text), Fit::Holds);
        assert_eq!(PgType::Varchar(None).fit(&PgType::Bytea), Fit::Incompatible);
        assert_eq!(PgType::Text.fit(&PgType::Int4), Fit::Holds);
        assert!(PgType::Int4.narrower_than(&PgType::Int8));
        assert!(PgType::Varchar(Some(5)).narrower_than(&PgType::Varchar(Some(50))));
        assert!(!PgType::Int8.narrower_than(&PgType::Int4));
        assert!(!PgType::Int8.narrower_than(&PgType::Int8));
    }
}
