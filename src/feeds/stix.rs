//! STIX 2.1 conversion (placeholder until the TAXII work lands).

/// A STIX bundle → SPEC §5 JSON indicators (not yet supported).
pub fn bundle_to_indicators(
    _doc: &serde_json::Value,
) -> Result<Vec<Result<serde_json::Value, crate::model::Rejection>>, String> {
    Err("STIX 2.1 submissions are not supported yet".into())
}
