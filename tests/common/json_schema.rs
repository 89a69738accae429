//! The part of JSON Schema (draft 6) the bundled HAR 1.2 schema uses — `type`, `required`,
//! `properties`, `items`, `oneOf`, `$ref` to `#/definitions/…`, `pattern` and `format` — checked by hand,
//! so one test does not need a schema engine. A keyword it does not know makes it panic rather
//! than pass a document unchecked.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// Every way `document` breaks `schema`, each with its JSON pointer; empty when it is valid.
pub fn errors(schema: &Value, document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(schema, schema, document, "", &mut found);
    found
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        panic!("schema at {at} is not an object");
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/definitions/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                let target = &root["definitions"][name];
                assert!(!target.is_null(), "no definition {name}");
                check(root, target, value, at, found);
            }
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("type {rule} at {at}"),
                };
                if !allowed.iter().any(|t| has_type(value, t)) {
                    found.push(format!("{at}: {value} is not {allowed:?}"));
                }
            }
            "required" => {
                for name in rule.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    if value.as_object().is_some_and(|o| !o.contains_key(name)) {
                        found.push(format!("{at}: {name} is missing"));
                    }
                }
            }
            "properties" => {
                for (name, sub) in rule.as_object().into_iter().flatten() {
                    if let Some(inner) = value.get(name) {
                        check(root, sub, inner, &format!("{at}/{name}"), found);
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(root, rule, item, &format!("{at}/{i}"), found);
                }
            }
            "oneOf" => {
                let passing = rule
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|option| errors_in(root, option, value, at).is_empty())
                    .count();
                if passing != 1 {
                    found.push(format!("{at}: {passing} of oneOf's options match"));
                }
            }
            // Every pattern in the HAR schema is an ISO 8601 date-time; the lab writes RFC 3339.
            "pattern" => {
                assert!(
                    rule.as_str().is_some_and(|p| p.starts_with("^(\\d{4})")),
                    "unsupported pattern {rule}"
                );
                if let Some(text) = value.as_str()
                    && time::OffsetDateTime::parse(text, &Rfc3339).is_err()
                {
                    found.push(format!("{at}: {text} is not a date-time"));
                }
            }
            "format" => {
                let Some(text) = value.as_str() else { continue };
                let valid = match rule.as_str().unwrap_or_default() {
                    "date-time" => time::OffsetDateTime::parse(text, &Rfc3339).is_ok(),
                    "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
                    "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
                    "uri" => url::Url::parse(text).is_ok(),
                    other => panic!("unsupported format {other}"),
                };
                if !valid {
                    found.push(format!("{at}: {text} is not a {rule}"));
                }
            }
            // Annotations; the definitions themselves (reached by $ref); and words har-schema
            // writes that are not JSON Schema keywords, which every validator ignores.
            "$schema" | "$comment" | "id" | "description" | "definitions" | "optional" | "min"
            | "unique" => {}
            other => panic!("unsupported keyword {other} at {at}"),
        }
    }
}

fn errors_in(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut found = Vec::new();
    check(root, schema, value, at, &mut found);
    found
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type {other}"),
    }
}
