//! Submission bodies: JSON (SPEC §5), CSV (`type,value,…` header) and STIX
//! 2.1 bundles, all turned into the same list of JSON indicators so they go
//! through the same validation and sanitiser.

use serde_json::{Map, Value};

use super::mapping::{self, Column, Origin};
use super::{InputError, json_error};
use crate::model::IndicatorRejection;

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

    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, InputError> {
        match media_type(content_type).as_str() {
            "application/json" => Ok(Format::Json),
            "text/csv" => Ok(Format::Csv),
            "application/stix+json" | "application/taxii+json" => Ok(Format::Stix),
            "" => Err(InputError::UnsupportedMedia(
                "missing Content-Type; send application/json, text/csv or application/stix+json".into(),
            )),
            _ => Err(InputError::UnsupportedMedia(
                "unsupported Content-Type; send application/json, text/csv or application/stix+json".into(),
            )),
        }
    }
}

/// The media type of a `Content-Type` header, lower case, without its
/// parameters (`application/json; charset=utf-8` → `application/json`).
pub fn media_type(content_type: Option<&str>) -> String {
    content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// A body split into indicators.
pub struct Parsed {
    /// One JSON indicator per entry (SPEC §5 shape).
    pub items: Vec<Value>,
    /// For CSV: the line of each item.
    pub lines: Option<Vec<usize>>,
    /// Entries refused while parsing (CSV rows with the wrong number of
    /// fields, STIX indicators with complex patterns), by index.
    pub rejected: Vec<IndicatorRejection>,
}

/// Parses a body with no limit on the number of indicators (dry-runs have
/// their own check); see [`parse_limited`].
pub fn parse(format: Format, body: &[u8]) -> Result<Parsed, InputError> {
    parse_limited(format, body, usize::MAX)
}

/// Parses a body, stopping with 413 as soon as it holds more than `max`
/// indicators: the rest of the body is never turned into values, so a
/// large body of tiny items costs no more memory than `max` of them.
/// CPU-bound: call it from `spawn_blocking`.
pub fn parse_limited(format: Format, body: &[u8], max: usize) -> Result<Parsed, InputError> {
    match format {
        Format::Json => parse_json(body, max),
        Format::Csv => parse_csv(body, max),
        Format::Stix => parse_stix(body, max),
    }
}

/// The 413 for a submission with more than `max` indicators.
pub fn too_many(max: usize) -> InputError {
    InputError::TooLarge(format!("more than {max} indicators in one submission; at most {max} are accepted"))
}

/// A JSON document read with one list member (`key`) limited to `max`
/// elements; other members are skipped without building values, except
/// `type` (STIX bundles).
mod limited {
    use std::cell::Cell;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    /// The top level of the document.
    pub enum Top {
        /// An object: its `type` member (if any) and the limited member.
        Object {
            kind: Option<Value>,
            list: Option<Field>,
        },
        NotObject,
    }

    /// The limited member.
    pub enum Field {
        List(Vec<Value>),
        NotList,
    }

    /// Parses `body`; `Err(None)` means the list has more than `max` elements.
    pub fn parse(body: &[u8], key: &str, max: usize) -> Result<Top, Option<serde_json::Error>> {
        let over = Cell::new(false);
        let mut de = serde_json::Deserializer::from_slice(body);
        let top = Doc { key, max, over: &over }.deserialize(&mut de).and_then(|t| de.end().map(|()| t));
        match top {
            Ok(t) => Ok(t),
            Err(_) if over.get() => Err(None),
            Err(e) => Err(Some(e)),
        }
    }

    struct Doc<'a> {
        key: &'a str,
        max: usize,
        over: &'a Cell<bool>,
    }

    impl<'de> DeserializeSeed<'de> for Doc<'_> {
        type Value = Top;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
            d.deserialize_any(self)
        }
    }

    macro_rules! not_object {
        ($($f:ident: $t:ty),*) => {$(
            fn $f<E: de::Error>(self, _: $t) -> Result<Self::Value, E> { Ok(Self::Value::default_other()) }
        )*};
    }

    trait Other {
        fn default_other() -> Self;
    }
    impl Other for Top {
        fn default_other() -> Self {
            Top::NotObject
        }
    }
    impl Other for Field {
        fn default_other() -> Self {
            Field::NotList
        }
    }

    impl<'de> Visitor<'de> for Doc<'_> {
        type Value = Top;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        not_object!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
        fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
            Ok(Top::NotObject)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Top::NotObject)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
            let (mut kind, mut list) = (None, None);
            while let Some(k) = map.next_key::<String>()? {
                if k == self.key {
                    list = Some(map.next_value_seed(List { max: self.max, over: self.over })?);
                } else if k == "type" {
                    kind = Some(map.next_value::<Value>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(Top::Object { kind, list })
        }
    }

    struct List<'a> {
        max: usize,
        over: &'a Cell<bool>,
    }

    impl<'de> DeserializeSeed<'de> for List<'_> {
        type Value = Field;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for List<'_> {
        type Value = Field;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        not_object!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
        fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
            Ok(Field::NotList)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Field::NotList)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
            let mut out = Vec::new();
            loop {
                if out.len() == self.max {
                    if seq.next_element::<IgnoredAny>()?.is_some() {
                        self.over.set(true);
                        return Err(A::Error::custom("too many elements"));
                    }
                    break;
                }
                match seq.next_element::<Value>()? {
                    Some(v) => out.push(v),
                    None => break,
                }
            }
            Ok(Field::List(out))
        }
    }
}

fn parse_json(body: &[u8], max: usize) -> Result<Parsed, InputError> {
    let not_a_submission = || {
        InputError::Invalid(
            "a submission is an object with an `indicators` list (or a MISP event or attribute list)".into(),
        )
    };
    let top = limited::parse(body, "indicators", max).map_err(|e| match e {
        None => too_many(max),
        Some(e) => json_error(&e),
    })?;
    let (mut items, origin) = match top {
        limited::Top::Object { list: Some(limited::Field::List(items)), .. } => (items, Origin::Submission),
        limited::Top::Object { list: Some(limited::Field::NotList), .. } => {
            return Err(InputError::Invalid("`indicators` must be a list".into()));
        }
        // No `indicators`: a MISP document? The body is within the size
        // limit, so reading it whole is bounded.
        limited::Top::Object { list: None, .. } => {
            let doc: Value = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
            let attrs = mapping::misp_attributes(doc).ok_or_else(not_a_submission)?;
            if attrs.len() > max {
                return Err(too_many(max));
            }
            (attrs, Origin::Misp)
        }
        limited::Top::NotObject => return Err(not_a_submission()),
    };
    for item in &mut items {
        mapping::map_item(item, origin);
    }
    Ok(Parsed { items, lines: None, rejected: Vec::new() })
}

fn parse_stix(body: &[u8], max: usize) -> Result<Parsed, InputError> {
    // A bundle holds other objects beside indicators (identities, markings,
    // relationships): allow twice as many, then count the indicators.
    let objects_max = max.saturating_mul(2).saturating_add(100);
    let top = limited::parse(body, "objects", objects_max).map_err(|e| match e {
        None => too_many(max),
        Some(e) => json_error(&e),
    })?;
    let doc = match top {
        limited::Top::NotObject => Value::Null,
        limited::Top::Object { kind, list } => {
            let mut map = Map::new();
            if let Some(k) = kind {
                map.insert("type".into(), k);
            }
            match list {
                Some(limited::Field::List(objects)) => {
                    map.insert("objects".into(), Value::Array(objects));
                }
                Some(limited::Field::NotList) => {
                    map.insert("objects".into(), Value::Bool(false));
                }
                None => {}
            }
            Value::Object(map)
        }
    };
    let converted = crate::feeds::stix::bundle_to_indicators(&doc).map_err(InputError::Invalid)?;
    if converted.len() > max {
        return Err(too_many(max));
    }
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

/// A CSV submission: a header line naming the columns (SPEC §5 field names,
/// or the usual names of other feeds' exports, see [`mapping::csv_column`]),
/// then one indicator per record.
fn parse_csv(body: &[u8], max: usize) -> Result<Parsed, InputError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        InputError::Invalid(format!("CSV is not valid UTF-8 (line {line})"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Vec<Column>> = None;
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut rejected = Vec::new();
    csv_records(text, |line, fields| {
        let Some(header) = &header else {
            header = Some(csv_header(&fields)?);
            return Ok(());
        };
        if fields.len() == 1 && fields[0].trim().is_empty() {
            return Ok(()); // blank line
        }
        if items.len() == max {
            return Err(too_many(max));
        }
        let index = items.len();
        lines.push(line);
        if fields.len() != header.len() {
            let mut r = IndicatorRejection::new(
                index,
                "",
                format!("{} fields where the header has {}", fields.len(), header.len()),
            );
            r.line = Some(line);
            rejected.push(r);
            items.push(Value::Null);
            return Ok(());
        }
        let mut item = Value::Object(csv_row(header, fields));
        mapping::map_item(&mut item, Origin::Submission);
        items.push(item);
        Ok(())
    })?;
    if header.is_none() {
        return Err(InputError::Invalid("CSV is empty; the first line must be a header such as type,value".into()));
    }
    Ok(Parsed { items, lines: Some(lines), rejected })
}

/// One record as a JSON indicator: empty fields are absent, tag columns are
/// split on `|`, `;` and `,`.
fn csv_row(header: &[Column], fields: Vec<String>) -> Map<String, Value> {
    let mut obj = Map::new();
    for (col, f) in header.iter().zip(fields) {
        if f.trim().is_empty() {
            continue;
        }
        let split = |f: &str| -> Vec<Value> {
            f.split(['|', ';', ',']).map(str::trim).filter(|t| !t.is_empty()).map(Value::from).collect()
        };
        match col {
            Column::Field("confidence") => {
                let v = f.trim().parse::<u64>().map(Value::from).unwrap_or(Value::String(f)); // the validator reports it
                obj.insert("confidence".into(), v);
            }
            Column::Field("tags") | Column::Tags => {
                if let Value::Array(list) = obj.entry("tags").or_insert_with(|| Value::Array(Vec::new())) {
                    list.extend(split(&f));
                }
            }
            Column::Field(name) => {
                obj.insert((*name).into(), Value::String(f));
            }
            Column::ValueOf(kind) => {
                obj.insert("value".into(), Value::String(f));
                obj.entry("type").or_insert_with(|| Value::from(*kind));
            }
            Column::Unknown(name) => {
                obj.insert(name.clone(), Value::String(f));
            }
        }
    }
    obj
}

/// Maps the header line; refuses duplicates and a header without a value
/// column, or without a type when the value column does not name it.
fn csv_header(fields: &[String]) -> Result<Vec<Column>, InputError> {
    let cols: Vec<Column> = fields.iter().map(|h| mapping::csv_column(&h.trim().to_ascii_lowercase())).collect();
    for (i, c) in cols.iter().enumerate() {
        let clash = |o: &Column| match (c, o) {
            (Column::Field(a), Column::Field(b)) => a == b && *a != "tags",
            (Column::ValueOf(_) | Column::Field("value"), Column::ValueOf(_) | Column::Field("value")) => true,
            (Column::Unknown(a), Column::Unknown(b)) => a == b,
            _ => false,
        };
        if cols[..i].iter().any(clash) {
            // The names are not quoted: a header cell is submitted text.
            let field = match c {
                Column::Field(f) => f,
                Column::ValueOf(_) => "value",
                Column::Tags | Column::Unknown(_) => "the same name",
            };
            return Err(InputError::Invalid(format!("CSV line 1, column {}: a second column for {field}", i + 1)));
        }
    }
    let has_value = cols.iter().any(|c| matches!(c, Column::ValueOf(_) | Column::Field("value")));
    let has_type = cols.iter().any(|c| matches!(c, Column::ValueOf(_) | Column::Field("type")));
    if !has_value || !has_type {
        return Err(InputError::Invalid(format!(
            "CSV line 1: the header needs a type column and a {}; see docs/import.md",
            mapping::CSV_VALUE_COLUMNS
        )));
    }
    Ok(cols)
}

/// RFC 4180 records, each handed to `record` with the line it starts on as
/// soon as it is complete (nothing is kept): quoted fields may hold commas,
/// doubled quotes and line breaks.
fn csv_records(
    text: &str,
    mut record: impl FnMut(usize, Vec<String>) -> Result<(), InputError>,
) -> Result<(), InputError> {
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
                record(start_line, std::mem::take(&mut fields))?;
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
        return Err(InputError::Invalid(format!("CSV line {start_line}: unterminated quoted field")));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        record(start_line, fields)?;
    }
    Ok(())
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
    fn json_parsing_stops_at_max_plus_one() {
        // Garbage after the (max+1)-th element: a parser that read the whole
        // list would report a syntax error, not the limit.
        let body = br#"{"indicators":[{"type":"domain"},0,0,0 @@@ not JSON"#;
        let e = parse_limited(Format::Json, body, 3).err().unwrap();
        assert!(matches!(e, InputError::TooLarge(_)), "{e}");
        assert_eq!(e.to_string(), "more than 3 indicators in one submission; at most 3 are accepted");
        // At the limit: accepted.
        let p = parse_limited(Format::Json, br#"{"indicators":[1,2,3],"other":[4,5,6,7]}"#, 3).unwrap();
        assert_eq!(p.items.len(), 3);
        // Other members are skipped, and shapes still give the old errors.
        for (body, msg) in [
            (&br#"{"indicators":{"a":1}}"#[..], "`indicators` must be a list"),
            (br#"[1,2]"#, "a submission is an object with an `indicators` list (or a MISP event or attribute list)"),
            (
                br#"{"other":[]}"#,
                "a submission is an object with an `indicators` list (or a MISP event or attribute list)",
            ),
        ] {
            assert_eq!(parse_limited(Format::Json, body, 3).err().unwrap().to_string(), msg);
        }
        let e = parse_limited(Format::Json, br#"{"indicators":[1,2] x"#, 3).err().unwrap().to_string();
        assert!(e.starts_with("malformed JSON: syntax error at line 1"), "{e}");
    }

    #[test]
    fn csv_and_stix_parsing_stop_at_max_plus_one() {
        let body = b"type,value\ndomain,a.top\n\ndomain,b.top\ndomain,c.top\n\"open";
        let e = parse_limited(Format::Csv, body, 2);
        assert_eq!(e.err().unwrap().to_string(), "more than 2 indicators in one submission; at most 2 are accepted");
        assert_eq!(
            parse_limited(Format::Csv, b"type,value\ndomain,a.top\n\ndomain,b.top\n", 2).unwrap().items.len(),
            2
        );
        let ind = r#"{"type":"indicator","pattern_type":"stix","pattern":"[domain-name:value = 'a.top']"}"#;
        let bundle = |n: usize| format!(r#"{{"type":"bundle","objects":[{}]}}"#, vec![ind; n].join(","));
        assert_eq!(parse_limited(Format::Stix, bundle(2).as_bytes(), 2).unwrap().items.len(), 2);
        let e = parse_limited(Format::Stix, bundle(3).as_bytes(), 2).err().unwrap();
        assert!(matches!(e, InputError::TooLarge(_)), "{e}");
        // Far more objects than the limit allows: stopped before the garbage.
        let e = parse_limited(Format::Stix, format!(r#"{{"objects":[{}"#, "0,".repeat(300)).as_bytes(), 2);
        assert!(matches!(e, Err(InputError::TooLarge(_))));
        assert!(parse(Format::Stix, b"[1]").err().unwrap().to_string().contains("JSON object"));
        assert!(parse(Format::Stix, br#"{"type":"bundle","objects":3}"#).err().unwrap().to_string().contains("list"));
    }

    #[test]
    fn csv_header_errors() {
        assert!(parse(Format::Csv, b"name,value\n").is_err());
        assert!(
            parse(Format::Csv, b"type,ioc,value\n")
                .err()
                .unwrap()
                .to_string()
                .contains("column 3: a second column for value")
        );
        assert!(parse(Format::Csv, b"value\nx\n").is_err());
        let e = parse(Format::Csv, b"type,value\n\"open,x\n").err().unwrap().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
