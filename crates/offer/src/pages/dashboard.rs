//! Pure: the regional dashboard: the available capacities (status J188 `02`, "Disponible") of
//! a region's locations by capacity type, day by day over the last days, computed from the
//! locations' capacity history (each day counts, for each location, the last version written
//! before the day ended), and its chart as SVG drawn on the server (no script).

use super::view::label;
use crate::codes::CAPACITY_TYPE;
use crate::model::Capacity;
use crate::time::day;
use coeur_web::Lang;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The status counted: available.
const AVAILABLE: &str = "02";

/// One capacity type's daily counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    /// J187 code.
    pub code: String,
    /// Its label, in the page's language.
    pub label: String,
    /// The count of each day, oldest first.
    pub values: Vec<u64>,
    /// Its colour on the chart.
    pub colour: &'static str,
}

/// The counts of the last days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// The days (`YYYY-MM-DD`), oldest first, today last.
    pub days: Vec<String>,
    /// One series per capacity type seen.
    pub series: Vec<Series>,
}

/// Colours of the series, distinguishable and dark enough on white (contrast above 3:1).
const COLOURS: [&str; 5] = ["#00338d", "#b3261e", "#1b6e3a", "#7a4b00", "#6a1b9a"];

/// The available capacities by type for each of the `days` days ending with `now`'s, from a
/// region's history: `(location id, changed_at, capacities)`, oldest first; the types named
/// in `lang`.
pub fn available_by_type(
    history: &[(String, i64, Vec<Capacity>)],
    now: i64,
    days: usize,
    lang: Lang,
) -> Chart {
    let today = now.div_euclid(86_400);
    let first = today - i64::try_from(days).unwrap_or(0) + 1;
    let mut state: HashMap<&str, &[Capacity]> = HashMap::new();
    let mut rows = history.iter().peekable();
    let mut by_type: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut labels = vec![];
    for (k, d) in (first..=today).enumerate() {
        let end = (d + 1) * 86_400;
        while let Some((id, _, caps)) = rows.next_if(|(_, at, _)| *at < end) {
            state.insert(id.as_str(), caps.as_slice());
        }
        for caps in state.values() {
            for c in caps.iter().filter(|c| c.status == AVAILABLE) {
                let v = by_type
                    .entry(c.capacity_type.clone())
                    .or_insert_with(|| vec![0; days]);
                if let Some(slot) = v.get_mut(k) {
                    *slot += u64::from(c.nb);
                }
            }
        }
        labels.push(day(d * 86_400));
    }
    Chart {
        days: labels,
        series: by_type
            .into_iter()
            .enumerate()
            .map(|(i, (code, values))| Series {
                label: label(&CAPACITY_TYPE, &code, lang),
                code,
                values,
                colour: COLOURS[i % COLOURS.len()],
            })
            .collect(),
    }
}

/// The chart's drawing area.
pub const WIDTH: u32 = 640;
/// Its height.
pub const HEIGHT: u32 = 320;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 72.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round top for the vertical axis, at least `max` and at least 1.
fn axis_top(max: u64) -> u64 {
    let mut step = 1;
    while step * 10 < max.max(1) {
        step *= 10;
    }
    max.max(1).div_ceil(step) * step
}

/// The inside of the chart's `<svg>` (whose `viewBox` is `0 0 WIDTH HEIGHT`, and whose title
/// and description the page writes in its language): axes, grid, one line per series with a
/// dot per day, the days under the axis, and the legend.
pub fn svg_body(chart: &Chart) -> String {
    let (w, h) = (f64::from(WIDTH), f64::from(HEIGHT));
    let plot_w = w - LEFT - RIGHT;
    let plot_h = h - TOP - BOTTOM;
    let max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let top = axis_top(max);
    let n = chart.days.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / top as f64;
    let mut out = String::new();
    for k in 0..=4u64 {
        let v = top * k / 4;
        let yy = y(v);
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#c3c9d4\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#1b2333\">{v}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        ));
    }
    let every = n.div_ceil(7);
    for (i, d) in chart.days.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let short = d.get(5..).unwrap_or(d);
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#1b2333\">{}</text>",
                x(i),
                TOP + plot_h + 18.0,
                escape(short)
            ));
        }
    }
    for s in &chart.series {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" points=\"{}\"/>",
            s.colour,
            points.join(" ")
        ));
        for p in &points {
            if let Some((px, py)) = p.split_once(',') {
                out.push_str(&format!(
                    "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{}\"/>",
                    s.colour
                ));
            }
        }
    }
    for (i, s) in chart.series.iter().enumerate() {
        let lx = LEFT + 150.0 * i as f64;
        let ly = h - 18.0;
        out.push_str(&format!(
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"13\" fill=\"#1b2333\">{}</text>",
            ly - 11.0,
            s.colour,
            lx + 20.0,
            escape(&s.label)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(t: &str, status: &str, nb: u32) -> Capacity {
        Capacity {
            capacity_type: t.into(),
            status: status.into(),
            temporality: "01".into(),
            nb,
            source: "01".into(),
            gender: None,
            update_date: 0,
            temporary_assignment: "01".into(),
        }
    }

    #[test]
    fn each_day_counts_the_last_version_before_its_end() {
        let d0 = 1_767_225_600; // 2026-01-01
        let history = vec![
            (
                "a".to_owned(),
                d0 - 86_400 * 5,
                vec![cap("01", "02", 4), cap("01", "03", 9)],
            ),
            ("b".to_owned(), d0 + 100, vec![cap("02", "02", 2)]),
            ("a".to_owned(), d0 + 86_400 + 10, vec![cap("01", "02", 1)]),
            ("a".to_owned(), d0 + 86_400 + 20, vec![cap("01", "02", 6)]),
        ];
        let c = available_by_type(&history, d0 + 2 * 86_400 + 5, 4, Lang::Fr);
        assert_eq!(
            c.days,
            ["2025-12-31", "2026-01-01", "2026-01-02", "2026-01-03"]
        );
        assert_eq!(c.series.len(), 2);
        assert_eq!(
            (c.series[0].code.as_str(), c.series[0].label.as_str()),
            ("01", "Lit")
        );
        assert_eq!(c.series[0].values, [4, 4, 6, 6]);
        assert_eq!(c.series[1].values, [0, 2, 2, 2]);
        assert_ne!(c.series[0].colour, c.series[1].colour);
        // In English, the same counts under English names, in the legend too.
        let en = available_by_type(&history, d0 + 2 * 86_400 + 5, 4, Lang::En);
        let names: Vec<&str> = en.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(names, ["Bed", "Place"]);
        assert_eq!(en.series[0].values, c.series[0].values);
        let svg = svg_body(&en);
        assert!(svg.contains(">Bed<") && !svg.contains("Lit"), "{svg}");
    }

    #[test]
    fn the_chart_draws_every_series_and_escapes_its_words() {
        let chart = Chart {
            days: vec!["2026-01-01".into(), "2026-01-02".into()],
            series: vec![Series {
                code: "01".into(),
                label: "Lit <&>".into(),
                values: vec![3, 17],
                colour: COLOURS[0],
            }],
        };
        let svg = svg_body(&chart);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("Lit &lt;&amp;&gt;") && !svg.contains("<&>"));
        assert!(svg.contains(">01-02<") && svg.contains(">20<"), "{svg}");
        assert_eq!(axis_top(0), 1);
        assert_eq!(axis_top(17), 20);
        assert_eq!(axis_top(240), 300);
        assert!(
            svg_body(&Chart {
                days: vec![],
                series: vec![]
            })
            .contains("<line")
        );
    }
}
