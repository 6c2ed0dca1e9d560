//! Submission bodies: JSON (SPEC §5), CSV (`type,value,…` header) and STIX
//! 2.1 bundles, all turned into the same list of JSON indicators so they go
//! through the same validation and sanitiser.

use serde_json::{Map, Value};

use super::ApiError;
use super::errors::json_error;
use crate::model::Rejection;

/// The accepted media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Stix,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv",
            Format::Stix => "application/stix+json",
        }
    }

    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, ApiError> {
        let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            "application/json" => Ok(Format::Json),
            "text/csv" => Ok(Format::Csv),
            "application/stix+json" | "application/taxii+json" => Ok(Format::Stix),
            "" => Err(ApiError::UnsupportedMedia(
                "missing Content-Type; send application/json, text/csv or application/stix+json".into(),
            )),
            _ => Err(ApiError::UnsupportedMedia(
                "unsupported Content-Type; send application/json, text/csv or application/stix+json".into(),
            )),
        }
    }
}

/// A body split into indicators.
pub struct Parsed {
    /// One JSON indicator per entry (SPEC §5 shape).
    pub items: Vec<Value>,
    /// For CSV: the line of each item.
    pub lines: Option<Vec<usize>>,
    /// Entries refused while parsing (CSV rows with the wrong number of
    /// fields, STIX indicators with complex patterns), by index.
    pub rejected: Vec<Rejection>,
}

pub fn parse(format: Format, body: &[u8]) -> Result<Parsed, ApiError> {
    match format {
        Format::Json => parse_json(body),
        Format::Csv => parse_csv(body),
        Format::Stix => parse_stix(body),
    }
}

fn parse_json(body: &[u8]) -> Result<Parsed, ApiError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let items = match doc {
        Value::Object(mut map) => match map.remove("indicators") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(ApiError::BadRequest("`indicators` must be a list".into())),
            None => return Err(ApiError::BadRequest("a submission is an object with an `indicators` list".into())),
        },
        _ => return Err(ApiError::BadRequest("a submission is an object with an `indicators` list".into())),
    };
    Ok(Parsed { items, lines: None, rejected: Vec::new() })
}

fn parse_stix(body: &[u8]) -> Result<Parsed, ApiError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let converted = crate::feeds::stix::bundle_to_indicators(&doc).map_err(ApiError::BadRequest)?;
    let mut items = Vec::new();
    let mut rejected = Vec::new();
    for (i, r) in converted.into_iter().enumerate() {
        match r {
            Ok(v) => items.push(v),
            Err(mut rej) => {
                rej.index = i;
                rejected.push(rej);
                items.push(Value::Null); // keeps indices aligned; never sanitised
            }
        }
    }
    Ok(Parsed { items, lines: None, rejected })
}

/// Columns a CSV submission may have (any order, `type` and `value` required).
const CSV_COLUMNS: &[&str] =
    &["type", "value", "category", "confidence", "tlp", "first_seen", "valid_until", "description", "tags"];

fn parse_csv(body: &[u8]) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        ApiError::BadRequest(format!("CSV is not valid UTF-8 (line {line})"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = csv_records(text)?;
    let mut it = records.into_iter();
    let Some((_, header)) = it.next() else {
        return Err(ApiError::BadRequest("CSV is empty; the first line must be a header such as type,value".into()));
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    for (i, h) in header.iter().enumerate() {
        if !CSV_COLUMNS.contains(&h.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "CSV line 1, column {}: unknown column (expected {})",
                i + 1,
                CSV_COLUMNS.join(", ")
            )));
        }
        if header[..i].contains(h) {
            return Err(ApiError::BadRequest(format!("CSV line 1, column {}: duplicate column", i + 1)));
        }
    }
    if !header.iter().any(|h| h == "type") || !header.iter().any(|h| h == "value") {
        return Err(ApiError::BadRequest("CSV line 1: the header needs `type` and `value` columns".into()));
    }
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut rejected = Vec::new();
    for (line, fields) in it {
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue; // blank line
        }
        let index = items.len();
        lines.push(line);
        if fields.len() != header.len() {
            let mut r =
                Rejection::new(index, "", format!("{} fields where the header has {}", fields.len(), header.len()));
            r.line = Some(line);
            rejected.push(r);
            items.push(Value::Null);
            continue;
        }
        let mut obj = Map::new();
        for (h, f) in header.iter().zip(fields) {
            if f.is_empty() {
                continue;
            }
            let v = match h.as_str() {
                "confidence" => match f.trim().parse::<u64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::String(f), // the validator reports it
                },
                "tags" => Value::Array(
                    f.split(['|', ';']).map(str::trim).filter(|t| !t.is_empty()).map(Value::from).collect(),
                ),
                _ => Value::String(f),
            };
            obj.insert(h.clone(), v);
        }
        items.push(Value::Object(obj));
    }
    Ok(Parsed { items, lines: Some(lines), rejected })
}

/// RFC 4180 records with the line each starts on: quoted fields may hold
/// commas, doubled quotes and line breaks.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ApiError> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                out.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                start_line = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if in_quotes {
        return Err(ApiError::BadRequest(format!("CSV line {start_line}: unterminated quoted field")));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start_line, fields));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_line_numbers() {
        let body = "type,value,description,tags\n\
                    domain,evil.example.com,\"multi\nline, with comma\",a|b\n\
                    \n\
                    url,http://x.example.com/,\"say \"\"hi\"\"\",\n\
                    domain,short\n";
        let p = parse(Format::Csv, body.as_bytes()).unwrap();
        assert_eq!(p.items.len(), 3);
        assert_eq!(p.items[0]["description"], "multi\nline, with comma");
        assert_eq!(p.items[0]["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(p.items[1]["description"], "say \"hi\"");
        assert_eq!(p.lines.unwrap(), vec![2, 5, 6]);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!((p.rejected[0].index, p.rejected[0].line), (2, Some(6)));
    }

    #[test]
    fn csv_header_errors() {
        assert!(parse(Format::Csv, b"kind,value\n").is_err());
        assert!(parse(Format::Csv, b"value\nx\n").is_err());
        let e = parse(Format::Csv, b"type,value\n\"open,x\n").err().unwrap().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
