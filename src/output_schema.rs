//! Output schemas for typed results: a JSON Schema (draft-07) that a task's
//! structured output must follow.
//!
//! A schema is checked before anything is sent (its size, its depth, and that it
//! is a valid draft-07 schema that refers to nothing outside itself), hashed so
//! the worker template made for it can be found again, and used to check the
//! structured output a worker returns. A mismatch is reported, never hidden.

use serde_json::{Map, Value};

/// Largest schema accepted, as compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Deepest nesting of objects and arrays accepted.
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// Most problems reported for one structured output.
const MAX_PROBLEMS: usize = 10;

/// The draft a schema may name in `$schema` (with or without the empty fragment).
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema";

/// Why a schema was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaProblem {
    #[error("it is {bytes} bytes as JSON; at most {MAX_SCHEMA_BYTES} are accepted")]
    TooLarge { bytes: usize },
    #[error("it nests objects and arrays {depth} deep; at most {MAX_SCHEMA_DEPTH} are accepted")]
    TooDeep { depth: usize },
    #[error("its $schema is {given:?}; only draft-07 ({DRAFT_07}#) is accepted")]
    OtherDraft { given: String },
    #[error("it is not a valid draft-07 JSON Schema: {reason}")]
    Invalid { reason: String },
}

/// A checked output schema.
#[derive(Clone)]
pub struct OutputSchema {
    schema: Value,
    hash: String,
    validator: std::sync::Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSchema")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl PartialEq for OutputSchema {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
    }
}

impl Eq for OutputSchema {}

/// How a structured output compares with its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeCheck {
    Matches,
    /// The worker returned no structured output at all.
    Missing,
    /// Where and how it differs (the first few problems).
    Differs(Vec<String>),
}

impl OutputSchema {
    /// Check `schema`; nothing is fetched (a `$ref` to another document is refused).
    pub fn parse(schema: Map<String, Value>) -> Result<Self, SchemaProblem> {
        let schema = Value::Object(schema);
        let depth = depth(&schema);
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaProblem::TooDeep { depth });
        }
        let canonical = canonical(&schema);
        let bytes = serde_json::to_vec(&canonical).expect("JSON values serialize");
        if bytes.len() > MAX_SCHEMA_BYTES {
            return Err(SchemaProblem::TooLarge { bytes: bytes.len() });
        }
        if let Some(named) = schema.get("$schema") {
            let draft_07 = named
                .as_str()
                .is_some_and(|s| s.trim_end_matches('#') == DRAFT_07);
            if !draft_07 {
                return Err(SchemaProblem::OtherDraft {
                    given: named.to_string(),
                });
            }
        }
        let meta = jsonschema::draft7::meta::validator();
        if let Some(error) = meta.iter_errors(&schema).next() {
            return Err(SchemaProblem::Invalid {
                reason: describe(&error),
            });
        }
        let validator =
            jsonschema::draft7::new(&schema).map_err(|error| SchemaProblem::Invalid {
                reason: describe(&error),
            })?;
        Ok(Self {
            hash: hex_sha256(&bytes),
            schema,
            validator: std::sync::Arc::new(validator),
        })
    }

    /// The schema as given.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// SHA-256 of the schema's canonical JSON (keys sorted), in hex: the same
    /// schema written with its keys in another order has the same hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Compare a worker's structured output with the schema.
    pub fn check(&self, output: Option<&Value>) -> ShapeCheck {
        let Some(output) = output.filter(|v| !v.is_null()) else {
            return ShapeCheck::Missing;
        };
        let problems: Vec<String> = self
            .validator
            .iter_errors(output)
            .take(MAX_PROBLEMS)
            .map(|error| describe(&error))
            .collect();
        if problems.is_empty() {
            ShapeCheck::Matches
        } else {
            ShapeCheck::Differs(problems)
        }
    }
}

/// One validation error as a line: where, then what.
fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    let at = error.instance_path().to_string();
    let place = if at.is_empty() { "/" } else { at.as_str() };
    format!("at {place}: {error}")
}

/// How deeply objects and arrays nest in `value` (a scalar is 0). Iterative, so
/// a hostile document cannot overflow the stack.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, level)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        deepest = deepest.max(level);
        pending.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// `value` with every object's keys in sorted order, whatever the map type keeps.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn person() -> OutputSchema {
        OutputSchema::parse(object(json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name"]
        })))
        .unwrap()
    }

    #[test]
    fn outputs_are_compared_with_the_schema() {
        let schema = person();
        assert_eq!(
            schema.check(Some(&json!({"name": "Ada"}))),
            ShapeCheck::Matches
        );
        assert_eq!(schema.check(None), ShapeCheck::Missing);
        assert_eq!(schema.check(Some(&Value::Null)), ShapeCheck::Missing);
        let ShapeCheck::Differs(problems) = schema.check(Some(&json!({"age": "old"}))) else {
            panic!("a wrong output matched");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("at /age:")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("\"name\"")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_hash_ignores_key_order() {
        let a = OutputSchema::parse(object(json!({"type": "object", "required": ["x"]}))).unwrap();
        let b = OutputSchema::parse(object(json!({"required": ["x"], "type": "object"}))).unwrap();
        let c = OutputSchema::parse(object(json!({"required": ["y"], "type": "object"}))).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn bad_schemas_are_refused_with_the_reason() {
        let invalid = OutputSchema::parse(object(json!({"type": "strong"}))).unwrap_err();
        assert!(
            matches!(invalid, SchemaProblem::Invalid { .. }),
            "{invalid}"
        );
        let bad_required = OutputSchema::parse(object(json!({"required": "name"}))).unwrap_err();
        assert!(matches!(bad_required, SchemaProblem::Invalid { .. }));
        let other = OutputSchema::parse(object(
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
        ))
        .unwrap_err();
        assert!(matches!(other, SchemaProblem::OtherDraft { .. }));
        assert!(
            OutputSchema::parse(object(
                json!({"$schema": "http://json-schema.org/draft-07/schema#"})
            ))
            .is_ok()
        );
        // Nothing is fetched: a reference to another document cannot resolve.
        let remote = OutputSchema::parse(object(json!({"$ref": "https://example.com/s.json"})));
        assert!(
            matches!(remote, Err(SchemaProblem::Invalid { .. })),
            "{remote:?}"
        );
    }

    #[test]
    fn self_references_and_hard_patterns_end() {
        // A schema that refers to itself is valid and checks in finite time.
        let looped = OutputSchema::parse(object(json!({
            "type": "object",
            "properties": {"next": {"$ref": "#"}, "name": {"type": "string"}}
        })))
        .unwrap();
        let chain = json!({"next": {"next": {"name": 1}}});
        assert!(matches!(looped.check(Some(&chain)), ShapeCheck::Differs(_)));
        let bare = OutputSchema::parse(object(json!({"$ref": "#"})));
        if let Ok(bare) = bare {
            let _ = bare.check(Some(&json!({})));
        }
        // A pattern that backtracks badly on a long mismatch still ends.
        let hard =
            OutputSchema::parse(object(json!({"type": "string", "pattern": "^(a+)+$"}))).unwrap();
        let _ = hard.check(Some(&json!(format!("{}!", "a".repeat(40)))));
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let mut deep = json!({"type": "string"});
        for _ in 0..MAX_SCHEMA_DEPTH {
            deep = json!({"items": deep});
        }
        let refused = OutputSchema::parse(object(deep)).unwrap_err();
        assert!(
            matches!(refused, SchemaProblem::TooDeep { depth } if depth == MAX_SCHEMA_DEPTH + 1)
        );
        let mut fits = json!({"type": "string"});
        for _ in 1..MAX_SCHEMA_DEPTH {
            fits = json!({"items": fits});
        }
        assert!(OutputSchema::parse(object(fits)).is_ok());
        let large = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(matches!(
            OutputSchema::parse(object(large)),
            Err(SchemaProblem::TooLarge { .. })
        ));
    }
}
