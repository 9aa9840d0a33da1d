//! Schema names and parameters of the Kafka Connect and Debezium logical types.

pub const CONNECT_DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
pub const CONNECT_DATE: &str = "org.apache.kafka.connect.data.Date";
pub const CONNECT_TIME: &str = "org.apache.kafka.connect.data.Time";
pub const CONNECT_TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

pub const VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
pub const DATE: &str = "io.debezium.time.Date";
pub const TIME: &str = "io.debezium.time.Time";
pub const MICRO_TIME: &str = "io.debezium.time.MicroTime";
pub const NANO_TIME: &str = "io.debezium.time.NanoTime";
pub const TIMESTAMP: &str = "io.debezium.time.Timestamp";
pub const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
pub const NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
pub const ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
pub const ZONED_TIME: &str = "io.debezium.time.ZonedTime";
pub const YEAR: &str = "io.debezium.time.Year";
pub const JSON: &str = "io.debezium.data.Json";
pub const UUID: &str = "io.debezium.data.Uuid";
pub const ENUM: &str = "io.debezium.data.Enum";
pub const ENUM_SET: &str = "io.debezium.data.EnumSet";
pub const BITS: &str = "io.debezium.data.Bits";
pub const XML: &str = "io.debezium.data.Xml";
pub const GEOMETRY: &str = "io.debezium.data.geometry.Geometry";
pub const GEOGRAPHY: &str = "io.debezium.data.geometry.Geography";
pub const POINT: &str = "io.debezium.data.geometry.Point";

/// Schema name of Debezium heartbeat values.
pub const HEARTBEAT_VALUE: &str = "io.debezium.connector.common.Heartbeat";
/// Schema name of transaction metadata values.
pub const TX_METADATA_VALUE: &str = "io.debezium.connector.common.TransactionMetadataValue";

/// `Decimal` parameter: the scale.
pub const PARAM_SCALE: &str = "scale";
/// `Decimal` parameter: the declared precision (Debezium ≥ 0.x).
pub const PARAM_DECIMAL_PRECISION: &str = "connect.decimal.precision";
/// `Enum`/`EnumSet` parameter: the allowed values, comma separated.
pub const PARAM_ALLOWED: &str = "allowed";
/// `Bits` parameter: the number of bits.
pub const PARAM_LENGTH: &str = "length";
/// `column.propagate.source.type` parameters.
pub const PARAM_SOURCE_TYPE: &str = "__debezium.source.column.type";
pub const PARAM_SOURCE_LENGTH: &str = "__debezium.source.column.length";
pub const PARAM_SOURCE_SCALE: &str = "__debezium.source.column.scale";
