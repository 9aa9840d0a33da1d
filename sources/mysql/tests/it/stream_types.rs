//! Every column type round-trips exactly: known values inserted, streamed,
//! compared as `Value`s (after and before images).

use chrono::{DateTime, NaiveDate};
use mysql_async::prelude::Queryable;
use serde_json::json;
use sluice_sink_api::{Bits, Decimal, Geometry, Op, Precision, Row, Value};
use sluice_source_mysql::SourceStream;

use sluice_source_mysql::snapshot::{self, Chunk, Handler};
use sluice_source_mysql::{Result, SourceChange};

use super::common::{TestDb, collect};

struct Collect(Vec<SourceChange>);

impl Handler for Collect {
    async fn chunk(&mut self, chunk: Chunk<'_>) -> Result<()> {
        self.0.extend(chunk.changes);
        Ok(())
    }
}

const CREATE: &str = "CREATE TABLE all_types (
  id INT PRIMARY KEY,
  t_tiny TINYINT, t_utiny TINYINT UNSIGNED, t_small SMALLINT, t_usmall SMALLINT UNSIGNED,
  t_medium MEDIUMINT, t_umedium MEDIUMINT UNSIGNED, t_int INT, t_uint INT UNSIGNED,
  t_big BIGINT, t_ubig BIGINT UNSIGNED,
  t_dec DECIMAL(20,6), t_dec0 DECIMAL(5,0), t_float FLOAT, t_double DOUBLE,
  t_date DATE, t_time TIME, t_time6 TIME(6), t_dt DATETIME, t_dt3 DATETIME(3), t_dt6 DATETIME(6),
  t_ts TIMESTAMP NULL, t_ts6 TIMESTAMP(6) NULL, t_year YEAR,
  t_char CHAR(10), t_varchar VARCHAR(255), t_text TEXT, t_latin VARCHAR(20) CHARACTER SET latin1,
  t_binary BINARY(4), t_varbinary VARBINARY(16), t_blob BLOB,
  t_enum ENUM('small','medium','large'), t_set SET('a','b','c','d'),
  t_bit1 BIT(1), t_bit BIT(12), t_json JSON, t_geom GEOMETRY, t_point POINT,
  t_null VARCHAR(5)
) DEFAULT CHARSET=utf8mb4";

const INSERT: &str = "INSERT INTO all_types VALUES (
  1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  '-12345678901234.123450', 99999, 0.1, 2.718281828459045,
  '2024-02-29', '-838:59:59', '12:34:56.789012', '2024-01-02 03:04:05', '2024-01-02 03:04:05.120', '9999-12-31 23:59:59.999999',
  '2038-01-19 03:14:07', '2024-05-06 07:08:09.654321', 2155,
  'abc', 'héllo wörld 🚀', REPEAT('x', 1000), 'café',
  X'0102', X'DEADBEEF', X'00FF',
  'medium', 'd,a', b'1', b'101000000001', '{\"a\": [1, 2.5, \"x\", null, true], \"b\": {\"c\": \"d\"}}',
  ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326),
  NULL)";

fn ts(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn bits(s: &str) -> Bits {
    Bits::from_bools(s.chars().map(|c| c == '1').collect())
}

async fn wkb(db: &mut TestDb, column: &str) -> Geometry {
    let (wkb, srid): (Vec<u8>, i32) = db
        .conn
        .query_first(format!("SELECT ST_AsWKB({column}), ST_SRID({column}) FROM all_types WHERE id = 1"))
        .await
        .unwrap()
        .unwrap();
    Geometry { wkb, srid: Some(srid) }
}

#[tokio::test]
async fn every_column_type_round_trips() {
    let mut db = TestDb::new().await;
    db.exec(CREATE).await;
    let start = db.position().await;
    db.exec(INSERT).await;
    let geom = wkb(&mut db, "t_geom").await;
    let point = wkb(&mut db, "t_point").await;
    db.exec("UPDATE all_types SET t_ubig = 0, t_null = 'x', t_time = '00:00:01' WHERE id = 1").await;
    db.exec("DELETE FROM all_types WHERE id = 1").await;

    let mut stream = SourceStream::connect(db.config(), start).await.unwrap();
    let (txs, _) = collect(&mut stream, 3).await;
    let insert = &txs[0].changes[0].event;
    assert_eq!(insert.op, Op::Create);
    let after = insert.after.as_ref().unwrap();

    let expected: Vec<(&str, Value)> = vec![
        ("id", Value::Int(1)),
        ("t_tiny", Value::Int(-128)),
        ("t_utiny", Value::Int(255)),
        ("t_small", Value::Int(-32768)),
        ("t_usmall", Value::Int(65535)),
        ("t_medium", Value::Int(-8_388_608)),
        ("t_umedium", Value::Int(16_777_215)),
        ("t_int", Value::Int(-2_147_483_648)),
        ("t_uint", Value::Int(4_294_967_295)),
        ("t_big", Value::Int(i64::MIN)),
        ("t_ubig", Value::UInt(u64::MAX)),
        ("t_dec", Value::Decimal(Decimal::parse("-12345678901234.123450").unwrap())),
        ("t_dec0", Value::Decimal(Decimal::parse("99999").unwrap())),
        ("t_float", Value::Float(0.1)),
        ("t_double", Value::Float(std::f64::consts::E)),
        ("t_date", Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())),
        ("t_time", Value::Time { nanos: -(838 * 3600 + 59 * 60 + 59) * 1_000_000_000, precision: Precision::SECONDS }),
        (
            "t_time6",
            Value::Time {
                nanos: (12 * 3600 + 34 * 60 + 56) * 1_000_000_000 + 789_012_000,
                precision: Precision::MICROS,
            },
        ),
        ("t_dt", Value::Timestamp { value: ts("2024-01-02 03:04:05"), precision: Precision::SECONDS }),
        ("t_dt3", Value::Timestamp { value: ts("2024-01-02 03:04:05.120"), precision: Precision::MILLIS }),
        ("t_dt6", Value::Timestamp { value: ts("9999-12-31 23:59:59.999999"), precision: Precision::MICROS }),
        (
            "t_ts",
            Value::TimestampTz {
                value: DateTime::from_timestamp(2_147_483_647, 0).unwrap(),
                precision: Precision::SECONDS,
            },
        ),
        (
            "t_ts6",
            Value::TimestampTz { value: ts("2024-05-06 07:08:09.654321").and_utc(), precision: Precision::MICROS },
        ),
        ("t_year", Value::Int(2155)),
        ("t_char", Value::Text("abc".into())),
        ("t_varchar", Value::Text("héllo wörld 🚀".into())),
        ("t_text", Value::Text("x".repeat(1000))),
        ("t_latin", Value::Text("café".into())),
        ("t_binary", Value::Bytes(vec![1, 2, 0, 0])),
        ("t_varbinary", Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
        ("t_blob", Value::Bytes(vec![0, 0xff])),
        ("t_enum", Value::Enum("medium".into())),
        ("t_set", Value::Set(vec!["a".into(), "d".into()])),
        ("t_bit1", Value::Bool(true)),
        ("t_bit", Value::Bits(bits("101000000001"))),
        ("t_json", Value::Json(json!({"a": [1, 2.5, "x", null, true], "b": {"c": "d"}}))),
        ("t_geom", Value::Geometry(geom)),
        ("t_point", Value::Geometry(point)),
        ("t_null", Value::Null),
    ];
    assert_eq!(after.len(), expected.len(), "columns: {:?}", after.names().collect::<Vec<_>>());
    for (name, value) in &expected {
        assert_eq!(after.get(name), Some(value), "column {name}");
    }
    assert_eq!(insert.key, Some(Row::new().with("id", 1)));
    let schema = insert.schema.as_ref().unwrap();
    assert_eq!(schema.primary_key, vec!["id".to_string()]);
    assert_eq!(schema.column("t_varchar").unwrap().source_type.as_deref(), Some("varchar(255)"));
    assert_eq!(schema.column("t_ubig").unwrap().source_type.as_deref(), Some("bigint unsigned"));
    assert_eq!(schema.column("t_enum").unwrap().source_type.as_deref(), Some("enum('small','medium','large')"));
    assert_eq!(schema.column("t_point").unwrap().source_type.as_deref(), Some("point"));

    let update = &txs[1].changes[0].event;
    assert_eq!(update.op, Op::Update);
    assert_eq!(update.before.as_ref().unwrap(), after, "the before image is the inserted row");
    let upd_after = update.after.as_ref().unwrap();
    assert_eq!(upd_after.get("t_ubig"), Some(&Value::UInt(0)));
    assert_eq!(upd_after.get("t_null"), Some(&Value::Text("x".into())));
    assert_eq!(upd_after.get("t_time"), Some(&Value::Time { nanos: 1_000_000_000, precision: Precision::SECONDS }));

    // The snapshot reads the same values as the binlog for every type.
    db.exec(&INSERT.replacen("(\n  1,", "(\n  2,", 1)).await;
    let mut collect_snapshot = Collect(Vec::new());
    snapshot::run(&db.config(), None, &mut collect_snapshot, |_| {}).await.unwrap();
    let snap = collect_snapshot.0.iter().find(|c| c.event.key == Some(Row::new().with("id", 2))).expect("row 2 read");
    let snap_after = snap.event.after.as_ref().unwrap();
    for (name, value) in &expected {
        if *name != "id" {
            assert_eq!(snap_after.get(name), Some(value), "snapshot column {name}");
        }
    }
    assert_eq!(snap.event.schema, insert.schema, "snapshot and binlog schemas agree");

    let delete = &txs[2].changes[0].event;
    assert_eq!(delete.op, Op::Delete);
    assert_eq!(delete.before.as_ref(), Some(upd_after));
    assert_eq!(delete.key, Some(Row::new().with("id", 1)));
    assert!(txs[0].changes[0].event.version < update.version && update.version < delete.version);
    db.drop().await;
}
