//! Debezium output has the shapes of Debezium's own MySQL records (the
//! fixtures in /work/shared/fixtures/debezium, or SLUICE_DEBEZIUM_FIXTURES).

use serde_json::Value as Json;
use sluice_source_mysql::SourceStream;
use sluice_source_mysql::debezium::DebeziumSerializer;

use super::common::{TestDb, collect};

fn fixture(path: &str) -> Json {
    // SLUICE_DEBEZIUM_FIXTURES, else shared/ beside the repository (as CI lays it out).
    let beside_repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/debezium");
    let dir = std::env::var("SLUICE_DEBEZIUM_FIXTURES").unwrap_or_else(|_| {
        if std::path::Path::new(beside_repo).is_dir() {
            beside_repo.into()
        } else {
            // The verbatim copy kept in the repository.
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/debezium").into()
        }
    });
    let full = format!("{dir}/{path}");
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("fixture {full}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn field_names(schema: &Json) -> Vec<String> {
    schema["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect()
}

fn field<'a>(schema: &'a Json, name: &str) -> &'a Json {
    schema["fields"].as_array().unwrap().iter().find(|f| f["field"] == name).unwrap_or_else(|| panic!("field {name}"))
}

#[tokio::test]
async fn envelopes_keys_and_transactions_have_debezium_shapes() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE customers (id INT PRIMARY KEY, first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL)").await;
    let start = db.position().await;
    db.exec("BEGIN; INSERT INTO customers VALUES (1004, 'Anne', 'Kretchmar', 'annek@noanswer.org'); UPDATE customers SET first_name = 'Anne Marie' WHERE id = 1004; COMMIT").await;
    db.exec("DELETE FROM customers WHERE id = 1004").await;
    let mut stream = SourceStream::connect(db.config(), start).await.unwrap();
    let (txs, _) = collect(&mut stream, 2).await;
    let mut ser = DebeziumSerializer::new("mysql-server-1");
    let records = ser.change_records(&txs[0].changes[0], txs[0].gtid.as_deref(), "false", true);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].topic, format!("mysql-server-1.{}.customers", db.name));
    let ours: Json = serde_json::from_slice(records[0].value.as_ref().unwrap()).unwrap();
    let theirs = fixture("mysql/create_with_schema.json");

    // Envelope: the same fields (plus the transaction block Debezium adds when
    // transaction metadata is on, see mysql/console_snapshot_read_with_schema.json).
    let mut expected = field_names(&theirs["schema"]);
    expected.push("transaction".into());
    assert_eq!(field_names(&ours["schema"]), expected);
    assert!(ours["schema"]["name"].as_str().unwrap().ends_with(".customers.Envelope"));
    // Row struct: same column fields and Connect types.
    let row_types = |s: &Json| -> Vec<(String, String)> {
        field(s, "after")["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["field"].as_str().unwrap().into(), f["type"].as_str().unwrap().into()))
            .collect()
    };
    assert_eq!(row_types(&ours["schema"]), row_types(&theirs["schema"]));
    // Source block: the same fields in the same order, same types.
    let source_types = |s: &Json| -> Vec<(String, String)> {
        field(s, "source")["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["field"].as_str().unwrap().into(), f["type"].as_str().unwrap().into()))
            .collect()
    };
    let theirs_source: Vec<_> = source_types(&theirs["schema"]);
    let ours_source: Vec<_> =
        source_types(&ours["schema"]).into_iter().filter(|(n, _)| n != "sequence" && n != "snapshot").collect();
    let theirs_source: Vec<_> = theirs_source.into_iter().filter(|(n, _)| n != "sequence" && n != "snapshot").collect();
    assert_eq!(ours_source, theirs_source);
    assert_eq!(field(&ours["schema"], "source")["name"], "io.debezium.connector.mysql.Source");
    // Payload.
    let p = &ours["payload"];
    assert_eq!(p["op"], "c");
    assert_eq!(p["before"], Json::Null);
    assert_eq!(p["after"], theirs["payload"]["after"]);
    assert_eq!(p["source"]["connector"], "mysql");
    assert_eq!(p["source"]["name"], "mysql-server-1");
    assert_eq!(p["source"]["db"], db.name.as_str());
    assert_eq!(p["source"]["table"], "customers");
    assert_eq!(p["source"]["snapshot"], "false");
    assert_eq!(p["source"]["file"], txs[0].changes[0].file.as_ref());
    assert_eq!(p["source"]["gtid"], txs[0].gtid.as_deref().unwrap());
    assert_eq!(p["transaction"]["id"], txs[0].id.as_str());
    assert_eq!(p["transaction"]["total_order"], 1);
    // Key: like mysql/customers_key.json.
    let key: Json = serde_json::from_slice(records[0].key.as_ref().unwrap()).unwrap();
    let their_key = fixture("mysql/customers_key.json");
    assert_eq!(field_names(&key["schema"]), field_names(&their_key["schema"]));
    assert_eq!(key["payload"], serde_json::json!({"id": 1004}));
    // Update and delete (+ tombstone).
    let upd: Json =
        serde_json::from_slice(ser.change_records(&txs[0].changes[1], None, "false", true)[0].value.as_ref().unwrap())
            .unwrap();
    let their_upd = fixture("mysql/update_with_schema.json");
    assert_eq!(upd["payload"]["before"], their_upd["payload"]["before"]);
    assert_eq!(upd["payload"]["after"], their_upd["payload"]["after"]);
    let del = ser.change_records(&txs[1].changes[0], None, "false", true);
    assert_eq!(del.len(), 2, "delete then tombstone");
    assert!(del[1].value.is_none() && del[1].key == del[0].key);
    let del_json: Json = serde_json::from_slice(del[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(del_json["payload"]["op"], "d");
    assert_eq!(del_json["payload"]["before"], their_upd["payload"]["after"]);
    // Transaction metadata: like tx/mysql_begin.json and tx/mysql_end.json.
    let begin: Json = serde_json::from_slice(ser.transaction_begin(&txs[0]).value.as_ref().unwrap()).unwrap();
    let end: Json = serde_json::from_slice(ser.transaction_end(&txs[0]).value.as_ref().unwrap()).unwrap();
    let keys = |j: &Json| -> Vec<String> {
        let mut k: Vec<String> = j.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&begin["payload"]), keys(&fixture("tx/mysql_begin.json")));
    assert_eq!(keys(&end["payload"]), keys(&fixture("tx/mysql_end.json")));
    assert_eq!(end["payload"]["status"], "END");
    assert_eq!(end["payload"]["event_count"], 2);
    assert_eq!(
        end["payload"]["data_collections"],
        serde_json::json!([{"data_collection": format!("{}.customers", db.name), "event_count": 2}])
    );
    assert_eq!(ser.transaction_topic(), "mysql-server-1.transaction");
    db.drop().await;
}
