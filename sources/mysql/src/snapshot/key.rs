//! Snapshot keyset-pagination keys as stored JSON: the last primary key read,
//! in MySQL protocol values, tagged by kind (`{"i": 5}`, `{"b": "<hex>"}`…).

use mysql_async::Value as MyValue;

use crate::decode::TableLayout;

/// The stored form of a key (the primary-key values of one row).
pub fn key_to_json(values: &[MyValue]) -> serde_json::Value {
    serde_json::Value::Array(
        values
            .iter()
            .map(|v| match v {
                MyValue::Int(i) => serde_json::json!({"i": i}),
                MyValue::UInt(u) => serde_json::json!({"u": u}),
                MyValue::Bytes(b) => serde_json::json!({"b": hex::encode(b)}),
                MyValue::Date(y, m, d, h, i, s, us) => serde_json::json!({"d": [y, m, d, h, i, s, us]}),
                MyValue::Time(n, d, h, m, s, us) => serde_json::json!({"t": [n, d, h, m, s, us]}),
                MyValue::Float(f) => serde_json::json!({"f": f}),
                MyValue::Double(f) => serde_json::json!({"f": f}),
                MyValue::NULL => serde_json::Value::Null,
            })
            .collect(),
    )
}

/// Reads a stored key back; `None` when it does not fit the table's key.
pub fn key_from_json(layout: &TableLayout, json: &serde_json::Value) -> Option<Vec<MyValue>> {
    let items = json.as_array()?;
    if items.len() != layout.primary_key.len() {
        return None;
    }
    items
        .iter()
        .map(|item| {
            let o = item.as_object()?;
            let (tag, v) = o.iter().next()?;
            Some(match tag.as_str() {
                "i" => MyValue::Int(v.as_i64()?),
                "u" => MyValue::UInt(v.as_u64()?),
                "b" => MyValue::Bytes(hex::decode(v.as_str()?).ok()?),
                "f" => MyValue::Double(v.as_f64()?),
                "d" => {
                    let a: Vec<u64> = v.as_array()?.iter().filter_map(|x| x.as_u64()).collect();
                    MyValue::Date(a[0] as u16, a[1] as u8, a[2] as u8, a[3] as u8, a[4] as u8, a[5] as u8, a[6] as u32)
                }
                "t" => {
                    let a = v.as_array()?;
                    MyValue::Time(
                        a[0].as_bool()?,
                        a[1].as_u64()? as u32,
                        a[2].as_u64()? as u8,
                        a[3].as_u64()? as u8,
                        a[4].as_u64()? as u8,
                        a[5].as_u64()? as u32,
                    )
                }
                _ => return None,
            })
        })
        .collect()
}
