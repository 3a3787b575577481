//! The tools' JSON Schemas, as every client can read them.
//!
//! schemars marks Rust number types with `format` values such as `uint64` or
//! `double`. They are not JSON Schema formats, and strict validators (Ajv, used by
//! the MCP Inspector and by VS Code) warn about each one; they are dropped here.

use std::sync::Arc;

use rmcp::{
    handler::server::common::{schema_for_input, schema_for_output},
    model::JsonObject,
};
use schemars::JsonSchema;
use serde_json::Value;

/// The formats JSON Schema 2020-12 defines.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The input schema of a tool whose arguments are `T`.
pub fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    portable(&schema_for_input::<T>().expect("tool arguments are JSON objects"))
}

/// The output schema of a tool whose structured result is `T`.
pub fn output_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    portable(&schema_for_output::<T>())
}

fn portable(schema: &JsonObject) -> Arc<JsonObject> {
    let mut value = Value::Object(schema.clone());
    drop_nonstandard_formats(&mut value);
    match value {
        Value::Object(object) => Arc::new(object),
        _ => unreachable!("a schema object stays an object"),
    }
}

fn drop_nonstandard_formats(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f))
            {
                object.remove("format");
            }
            object.values_mut().for_each(drop_nonstandard_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nonstandard_formats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rust_number_formats_go_and_real_formats_stay() {
        let mut value = json!({"properties": {
            "size": {"type": "integer", "format": "uint64"},
            "when": {"type": "string", "format": "date-time"},
            "list": {"items": [{"format": "double"}]}
        }});
        drop_nonstandard_formats(&mut value);
        assert_eq!(
            value,
            json!({"properties": {
                "size": {"type": "integer"},
                "when": {"type": "string", "format": "date-time"},
                "list": {"items": [{}]}
            }})
        );
    }
}
