//! The tools' JSON Schemas, as every client can read them.
//!
//! schemars writes what strict validators warn about, so each schema is made
//! portable here:
//! - `format` values such as `uint64` or `double` (not JSON Schema formats) go;
//! - an optional property is simply not required: `"null"` leaves its type (and a
//!   `null` default goes), so no validator sees a nullable type it must rewrite;
//! - `$defs` are inlined and `$schema` is left out, so the same schema loads in a
//!   draft-07 validator and a 2020-12 one (2020-12 is MCP's default dialect).

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
    let mut object = schema.clone();
    object.remove("$schema");
    let definitions = object.remove("$defs").unwrap_or_default();
    let mut value = Value::Object(object);
    inline_refs(&mut value, &definitions);
    drop_nonstandard_formats(&mut value);
    optional_means_absent(&mut value);
    match value {
        Value::Object(object) => Arc::new(object),
        _ => unreachable!("a schema object stays an object"),
    }
}

/// Replace each `{"$ref": "#/$defs/Name", ...}` with the definition (keeping the
/// referring object's own keywords, such as its description).
fn inline_refs(value: &mut Value, definitions: &Value) {
    match value {
        Value::Object(object) => {
            if let Some(target) = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| definitions.get(name))
                .and_then(Value::as_object)
            {
                let target = target.clone();
                object.remove("$ref");
                for (key, item) in target {
                    object.entry(key).or_insert(item);
                }
            }
            object
                .values_mut()
                .for_each(|child| inline_refs(child, definitions));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|child| inline_refs(child, definitions)),
        _ => {}
    }
}

/// In every object schema, take `null` out of the properties that are not
/// required: absent, not null, is how they are left out.
fn optional_means_absent(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let required: Vec<String> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    if !required.contains(name) {
                        not_null(property);
                    }
                }
            }
            object.values_mut().for_each(optional_means_absent);
        }
        Value::Array(items) => items.iter_mut().for_each(optional_means_absent),
        _ => {}
    }
}

/// A property schema without its `null` alternative.
fn not_null(property: &mut Value) {
    let Value::Object(object) = property else {
        return;
    };
    if object.get("default") == Some(&Value::Null) {
        object.remove("default");
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    let branches = match object.get_mut("anyOf") {
        Some(Value::Array(branches)) => {
            branches.retain(|b| b.get("type") != Some(&Value::from("null")));
            branches.clone()
        }
        _ => return,
    };
    if let [Value::Object(only)] = branches.as_slice() {
        object.remove("anyOf");
        for (key, item) in only.clone() {
            object.entry(key).or_insert(item);
        }
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
