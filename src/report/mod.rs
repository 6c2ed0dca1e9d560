//! Documents for data-protection officers: the record of processing (GDPR
//! Art. 30(1), [`record`]) and the statistics page ([`stats`], with its
//! plots from [`plot`]). Both are built from the configuration, the
//! registry, policies and non-personal counters only: counts and types,
//! never a submitted value.
//!
//! The pages are self-contained HTML (inline style and SVG, no script, no
//! external asset), so they work offline, from a file, and under a strict
//! Content-Security-Policy.

pub mod plot;
pub mod record;
pub mod stats;

pub use record::{ProcessingInputs, processing_markdown};
pub use stats::stats_html;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Escapes text from the configuration or the registry for Markdown, so it
/// is shown as written (no emphasis, links, tables or HTML of its own).
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A time for people: `2026-12-02 03:14 UTC`.
pub fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:62rem;margin:2rem auto;\
padding:0 1rem;color:#1f2933;line-height:1.5}h1{font-size:1.6rem;border-bottom:3px solid #3e7cb1;padding-bottom:.3rem}\
h2{font-size:1.25rem;margin-top:2.2rem;color:#243b53}h3{font-size:1.05rem;margin-top:1.6rem;color:#243b53}\
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:.6rem 0}\
th,td{border:1px solid #d9e2ec;padding:.4rem .6rem;text-align:left;vertical-align:top;min-width:7rem}th{background:#f0f4f8}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
tr:nth-child(even) td{background:#fafcfe}.meta{color:#52606d;font-size:.92rem}code{background:#f0f4f8;padding:0 .2rem}\
li{margin:.15rem 0}em{color:#9b2c2c}.ok{color:#1f7a3a;font-weight:600}.bad{color:#b42318;font-weight:600}\
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}.card{border:1px solid #d9e2ec;border-radius:6px;\
padding:.6rem .9rem;min-width:9rem;flex:1 1 0}.card b{display:block;font-size:1.5rem;color:#102a43}\
.card span{color:#52606d;font-size:.88rem}.note{color:#52606d;font-size:.88rem;margin-top:.2rem}";

/// A standalone HTML page around `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

/// Markdown to HTML with `pulldown-cmark` (tables on). Raw HTML in the
/// Markdown is shown as text, never passed through.
pub fn markdown_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        e => e,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// The record of processing as a standalone HTML page.
pub fn processing_html(i: &ProcessingInputs<'_>) -> String {
    page("Record of processing — tamis", &markdown_html(&processing_markdown(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_lists_and_tables_render_and_html_is_text() {
        let h = markdown_html("Intro:\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>x</script>\n");
        assert!(h.contains("<ul>") && h.matches("<li>").count() == 2, "{h}");
        assert!(h.contains("<table>") && h.contains("<td>1</td>"), "{h}");
        assert!(!h.contains("<script>") && h.contains("&lt;script&gt;"), "{h}");
    }

    #[test]
    fn configured_text_cannot_format_itself() {
        let h = markdown_html(&format!("- {}", md("*Evil* [link](http://x) <b>| x")));
        assert!(!h.contains("<em>") && !h.contains("<a ") && !h.contains("<b>"), "{h}");
        assert!(h.contains("*Evil*"), "{h}");
    }

    #[test]
    fn times_are_for_people() {
        let t = time::macros::datetime!(2026-12-02 03:14:15.123456 UTC);
        assert_eq!(when(t), "2026-12-02 03:14 UTC");
    }
}
