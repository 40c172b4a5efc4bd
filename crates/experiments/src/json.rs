//! Numbers in reports as the f32 they are.
//!
//! `serde_json` widens an `f32` to `f64` before printing it, so a learning rate of
//! `0.001_f32` prints as `0.0010000000474974513`. Rust's `Display` for `f32`
//! prints the shortest decimal that reads back as the same f32 (`0.001`); parsing
//! that decimal as an `f64` gives the JSON number a reader expects.

/// `x` as a JSON number printed as its shortest f32 decimal (`null` if not finite).
pub fn number(x: f32) -> serde_json::Value {
    if !x.is_finite() {
        return serde_json::Value::Null;
    }
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn f32_values_print_as_written() {
        assert_eq!(number(0.001).to_string(), "0.001");
        assert_eq!(number(0.3).to_string(), "0.3");
        assert_eq!(number(0.8687).to_string(), "0.8687");
        assert_eq!(number(f32::NAN), serde_json::Value::Null);
        // The naive conversion, for contrast.
        assert_eq!(
            serde_json::json!(0.001_f32).to_string(),
            "0.0010000000474974513"
        );
    }
}
