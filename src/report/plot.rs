//! Inline SVG plots for the DPO pages: a line chart of weekly series (one
//! line per series, axes, grid, legend with totals) and horizontal bars for
//! categories. Plain SVG, no script: readable in any browser, offline and in
//! print.

use std::fmt::Write as _;

use super::esc;

/// Colour-blind-safe colours (Okabe–Ito, yellow replaced by a dark ochre).
const COLOURS: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#555555"];

/// A count for people: `12,345`.
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The smallest "nice" axis maximum (1, 2 or 5 times a power of ten) at or
/// above `max`, and its tick step (a quarter or a fifth of it).
fn nice_axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let mut unit = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            let top = m.saturating_mul(unit);
            if top >= max {
                let step = if m == 2 { top / 4 } else { top / 5 };
                return (top, step.max(1));
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A week label for the x axis: `W48`, and the year under it where the
/// axis starts or the year changes (`("W48", Some("2026"))`).
fn week_label<'a>(week: &'a str, previous: Option<&str>) -> (&'a str, Option<&'a str>) {
    let (year, w) = week.split_once('-').unwrap_or(("", week));
    match previous.and_then(|p| p.split_once('-')) {
        Some((py, _)) if py == year => (w, None),
        _ => (w, Some(year)),
    }
}

/// A line chart of weekly counts: `weeks` along x (oldest first), one line
/// per `(name, counts)` series (counts aligned with `weeks`), a legend with
/// each series' total, sorted as given. With one week, larger points
/// instead of lines (the legend gives the counts).
// One drawing routine: axes, grid, lines and legend share the geometry.
pub fn weekly_lines(title: &str, y_label: &str, weeks: &[String], series: &[(String, Vec<u64>)]) -> String {
    const W: f64 = 800.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 250.0;
    const TOP: f64 = 18.0;
    const PLOT_H: f64 = 240.0;
    let legend_h = series.len() as f64 * 20.0 + TOP + 8.0;
    let h = (TOP + PLOT_H + 62.0).max(legend_h);
    let plot_w = W - LEFT - RIGHT;
    let max = series.iter().flat_map(|(_, c)| c.iter().copied()).max().unwrap_or(0);
    let (top, step) = nice_axis(max);
    let n = weeks.len();
    let x =
        |i: usize| if n <= 1 { LEFT + plot_w / 2.0 } else { LEFT + 12.0 + (plot_w - 24.0) * i as f64 / (n - 1) as f64 };
    let y = |v: u64| TOP + PLOT_H - PLOT_H * v as f64 / top as f64;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{t}\" width=\"100%\" viewBox=\"0 0 {W} {h}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"12\" fill=\"#1f2933\">\
         <title>{t}</title>",
        t = esc(title)
    );
    // Grid and y axis.
    let mut v = 0;
    while v <= top {
        let yy = y(v);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#52606d\">{}</text>",
            LEFT + plot_w,
            if v == 0 { "#9aa5b1" } else { "#e4e7eb" },
            LEFT - 6.0,
            yy + 4.0,
            num(v)
        );
        v += step;
    }
    let _ = write!(
        s,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#52606d\">{}</text>",
        TOP + PLOT_H / 2.0,
        esc(y_label)
    );
    x_axis(&mut s, weeks, &x, TOP + PLOT_H, LEFT + plot_w / 2.0);
    for (k, (name, counts)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        if n > 1 {
            let points: Vec<String> =
                counts.iter().enumerate().map(|(i, c)| format!("{:.1},{:.1}", x(i), y(*c))).collect();
            let _ = write!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>",
                points.join(" ")
            );
        }
        if n <= 16 {
            for (i, c) in counts.iter().enumerate() {
                let r = if n == 1 { 6.0 } else { 3.5 };
                let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{colour}\"/>", x(i), y(*c));
            }
        }
        let ly = TOP + 6.0 + 20.0 * k as f64;
        let total: u64 = counts.iter().sum();
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" rx=\"1\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} <tspan fill=\"#52606d\">({})</tspan></text>",
            W - RIGHT + 16.0,
            ly - 2.0,
            W - RIGHT + 36.0,
            ly + 3.0,
            esc(name),
            num(total)
        );
    }
    s.push_str("</svg>");
    s
}

/// The x axis of [`weekly_lines`] below the plot's bottom line `base`: every
/// week labelled (the year under the first and at a change of year), or
/// every k-th when they would overlap, and the axis title centred on `mid`.
fn x_axis(s: &mut String, weeks: &[String], x: &dyn Fn(usize) -> f64, base: f64, mid: f64) {
    let n = weeks.len();
    let every = n.div_ceil(12).max(1);
    for (i, w) in weeks.iter().enumerate() {
        if i % every != 0 && i + 1 != n {
            continue;
        }
        let prev = i.checked_sub(every).and_then(|p| weeks.get(p)).map(String::as_str);
        let (week, year) = week_label(w, if i == 0 { None } else { prev });
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#52606d\">{}</text>",
            x(i),
            base + 18.0,
            esc(week)
        );
        if let Some(year) = year {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#52606d\" font-size=\"11\">{}</text>",
                x(i),
                base + 32.0,
                esc(year)
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#52606d\">ISO week (Monday to Sunday, UTC)</text>",
        mid,
        base + 50.0
    );
}

/// Horizontal bars for `(label, count)` pairs, largest first.
pub fn bars(title: &str, items: &[(String, u64)]) -> String {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let row = 24;
    let height = items.len() * row + 8;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{t}\" width=\"100%\" viewBox=\"0 0 640 {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"12\"><title>{t}</title>",
        t = esc(title)
    );
    for (i, (label, n)) in items.iter().enumerate() {
        let y = i * row + 4;
        let w = (*n as f64 / max * 380.0).max(1.0);
        let _ = write!(
            s,
            "<text x=\"170\" y=\"{}\" text-anchor=\"end\" fill=\"#334e68\">{}</text>\
             <rect x=\"180\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" rx=\"3\" fill=\"#3e7cb1\"/>\
             <text x=\"{:.1}\" y=\"{}\" fill=\"#1f2933\">{}</text>",
            y + 12,
            esc(label),
            185.0 + w,
            y + 12,
            num(*n)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_counts_readable() {
        assert_eq!(nice_axis(0), (1, 1));
        assert_eq!(nice_axis(7), (10, 2));
        assert_eq!(nice_axis(13), (20, 5));
        assert_eq!(nice_axis(480), (500, 100));
        assert_eq!(num(1234567), "1,234,567");
        assert_eq!(num(999), "999");
        assert_eq!(week_label("2026-W48", None), ("W48", Some("2026")));
        assert_eq!(week_label("2026-W49", Some("2026-W48")), ("W49", None));
        assert_eq!(week_label("2027-W01", Some("2026-W52")), ("W01", Some("2027")));
    }

    #[test]
    fn one_line_per_series_and_points_for_a_single_week() {
        let weeks: Vec<String> = (40..52).map(|w| format!("2026-W{w}")).collect();
        let series = vec![("email".to_owned(), (0..12).collect()), ("name".to_owned(), vec![3; 12])];
        let svg = weekly_lines("t", "items", &weeks, &series);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("email <tspan fill=\"#52606d\">(66)</tspan>"), "legend with totals: {svg}");
        let one = weekly_lines(
            "t",
            "items",
            &weeks[..1],
            &series.iter().map(|(n, c)| (n.clone(), c[..1].to_vec())).collect::<Vec<_>>(),
        );
        assert_eq!(one.matches("<polyline").count(), 0);
        assert_eq!(one.matches("<circle").count(), 2, "{one}");
        assert!(one.contains(">W40<") && one.contains(">2026<"), "{one}");
    }
}
