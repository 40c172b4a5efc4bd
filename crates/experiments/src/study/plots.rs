//! The study's charts: lines over categories with error bars, drawn as SVG by
//! `plotters`.
//!
//! A [`Chart`] holds [`Series`] of [`Point`]s, each with an interval (low..high)
//! drawn as an error bar. The x axis is categorical: only categories that have
//! a point are drawn, and the series are dodged sideways within a category so
//! that their bars do not cover each other. The y axis ends on round values and
//! its ticks are `plotters`' round steps. Colours are the Okabe–Ito
//! colour-blind-safe palette, and every series also has its own marker shape.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One plotted value with its interval (e.g. a mean and its 95 % CI). `low` and
/// `high` equal to `y` (or not finite) draw no error bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The index of the point's category in [`Chart::categories`].
    pub x: usize,
    /// The value.
    pub y: f64,
    /// Lower end of the error bar.
    pub low: f64,
    /// Upper end of the error bar.
    pub high: f64,
}

/// One line of a chart, with its legend text.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The points, joined in category order; a point with a non-finite `y` or a
    /// category out of range is left out.
    pub points: Vec<Point>,
}

/// A line chart with error bars over named categories.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Title, above the plot.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label beside the y axis.
    pub y_label: String,
    /// The x axis' categories, in order.
    pub categories: Vec<String>,
    /// The lines.
    pub series: Vec<Series>,
}

/// The Okabe–Ito palette (yellow left out: too pale on white).
const COLOURS: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

const WIDTH: u32 = 840;
const HEIGHT: u32 = 460;
/// `plotters` writes a font size of n as n / 1.24 px in SVG: 16 gives 12.9 px.
const FONT: &str = "sans-serif";

/// Formats a number rounded to four significant digits, in its shortest form:
/// `0.001`, `2.5`, `1e-5`; never float noise such as `0.30000000000000004`.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let r: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    if (1e-4..1e7).contains(&r.abs()) {
        format!("{r}")
    } else {
        format!("{r:e}")
    }
}

/// 1, 2 or 5 × 10^k, the smallest at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power)
}

/// The y axis' range: every value and interval end, padded, out to round values.
fn y_range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(hi.abs() * 1e-3).max(1e-9);
    let step = nice_step(span / 6.0);
    let (lo, hi) = (lo - 0.05 * span, hi + 0.05 * span);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// The outline of the `k`-th series' marker, in pixels around its point: a
/// circle (a 12-gon), square, triangle, diamond or downward triangle.
fn marker(k: usize) -> Vec<(i32, i32)> {
    match k % 5 {
        0 => (0..12)
            .map(|i| {
                let a = f64::from(i) * std::f64::consts::TAU / 12.0;
                (
                    (4.5 * a.cos()).round() as i32,
                    (4.5 * a.sin()).round() as i32,
                )
            })
            .collect(),
        1 => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        2 => vec![(0, -5), (5, 4), (-5, 4)],
        3 => vec![(0, -5), (5, 0), (0, 5), (-5, 0)],
        _ => vec![(0, 5), (5, -4), (-5, -4)],
    }
}

/// Draws `chart` as an SVG document.
pub fn render(chart: &Chart) -> std::io::Result<String> {
    let mut svg = String::new();
    draw(chart, &mut svg).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(svg)
}

fn draw<'a>(chart: &Chart, svg: &'a mut String) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let usable = |p: &&Point| p.y.is_finite() && p.x < chart.categories.len();
    // Only the categories some series has a point in, renumbered 0, 1, ...
    let mut used = vec![false; chart.categories.len()];
    for p in chart.series.iter().flat_map(|s| &s.points).filter(usable) {
        used[p.x] = true;
    }
    let mut position = vec![0.0; used.len()];
    let mut names = Vec::new();
    for (k, name) in chart
        .categories
        .iter()
        .enumerate()
        .filter(|&(k, _)| used[k])
    {
        position[k] = names.len() as f64;
        names.push(name.clone());
    }
    let values: Vec<f64> = (chart.series.iter().flat_map(|s| &s.points).filter(usable))
        .flat_map(|p| [p.y, p.low, p.high])
        .filter(|v| v.is_finite())
        .collect();
    let (y_lo, y_hi) = y_range(&values);

    let longest = chart.series.iter().map(|s| s.name.chars().count()).max();
    let legend_width = longest.map_or(0, |n| 8 * n as u32 + 70);
    // Wide enough for every category's label side by side.
    let width = WIDTH.max(170 * names.len() as u32);
    let root = SVGBackend::with_string(svg, (width + legend_width, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let body = root.titled(&chart.title, (FONT, 20).into_font().style(FontStyle::Bold))?;
    let (plot, legend) = body.split_horizontally(width);

    let n = names.len().max(1) as f64;
    let mut context = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..n - 0.5, y_lo..y_hi)?;
    // Ticks at whole numbers only (`plotters` picks steps of 1 when allowed as
    // many labels as categories): each is labelled with its category.
    let category = |x: &f64| {
        let k = x.round();
        (k == *x && k >= 0.0)
            .then(|| names.get(k as usize).cloned())
            .flatten()
            .unwrap_or_default()
    };
    context
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
        .x_labels(names.len())
        .y_labels(8)
        .x_label_formatter(&category)
        .y_label_formatter(&|y: &f64| format_number(*y))
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 17))
        .draw()?;

    let m = chart.series.len();
    let dodge = (0.4 / m as f64).min(0.06);
    for (k, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let offset = (k as f64 - (m as f64 - 1.0) / 2.0) * dodge;
        let mut points: Vec<(f64, &Point)> = (series.points.iter().filter(usable))
            .map(|p| (position[p.x] + offset, p))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        context.draw_series(LineSeries::new(
            points.iter().map(|&(x, p)| (x, p.y)),
            colour.stroke_width(2),
        ))?;
        // Error bars: a vertical stroke with an 8-pixel cap at each end.
        let bars: Vec<(f64, &Point)> = (points.iter().copied())
            .filter(|(_, p)| p.low.is_finite() && p.high.is_finite() && p.low < p.high)
            .collect();
        context.draw_series(bars.iter().map(|&(x, p)| {
            PathElement::new(vec![(x, p.low), (x, p.high)], colour.stroke_width(2))
        }))?;
        context.draw_series(
            bars.iter()
                .flat_map(|&(x, p)| [(x, p.low), (x, p.high)])
                .map(|at| {
                    EmptyElement::at(at)
                        + PathElement::new(vec![(-4, 0), (4, 0)], colour.stroke_width(2))
                }),
        )?;
        context.draw_series(points.iter().map(|&(x, p)| {
            EmptyElement::at((x, p.y)) + Polygon::new(marker(k), colour.filled())
        }))?;
    }

    // The legend, beside the plot.
    if m > 0 {
        let top = 16;
        legend.draw(&Rectangle::new(
            [
                (4, top),
                (legend_width as i32 - 12, top + 24 * m as i32 + 8),
            ],
            RGBColor(0xBB, 0xBB, 0xBB).stroke_width(1),
        ))?;
        for (k, series) in chart.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let y = top + 16 + 24 * k as i32;
            legend.draw(&PathElement::new(
                vec![(14, y), (38, y)],
                colour.stroke_width(2),
            ))?;
            legend.draw(&(EmptyElement::at((26, y)) + Polygon::new(marker(k), colour.filled())))?;
            legend.draw(&Text::new(
                series.name.as_str(),
                (46, y),
                (FONT, 16)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        let categories = ["1", "2", "4", "8", "16"].map(String::from).to_vec();
        let series = ["784→10 α=0.5", "784→10 <α=1>"]
            .iter()
            .enumerate()
            .map(|(k, name)| Series {
                name: name.to_string(),
                points: (0..4)
                    .map(|x| {
                        let y = 90.0 + k as f64 + x as f64 * 0.37;
                        Point {
                            x,
                            y,
                            low: y - 0.4,
                            high: y + 0.3,
                        }
                    })
                    .collect(),
            })
            .collect();
        Chart {
            title: "Validation accuracy by temperature".into(),
            x_label: "temperature T".into(),
            y_label: "accuracy (%)".into(),
            categories,
            series,
        }
    }

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .map(|rest| {
                let start = rest.find('>').unwrap() + 1;
                rest[start..rest.find("</text>").unwrap()].trim()
            })
            .collect()
    }

    #[test]
    fn numbers_are_short_and_round() {
        assert_eq!(format_number(f64::from(0.001_f32)), "0.001");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1234.5678), "1235");
        assert_eq!(format_number(0.00003), "3e-5");
        assert_eq!(format_number(25_000_000.0), "2.5e7");
        assert_eq!(format_number(97.25), "97.25");
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(y_range(&[92.3, 97.2]), (92.0, 98.0));
    }

    #[test]
    fn chart_has_every_series_bar_label_and_no_empty_category() {
        let svg = render(&chart()).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        std::fs::write(std::env::temp_dir().join("mimic-plots-test.svg"), &svg).unwrap();
        // Each series: its line, its legend line and four error bars (3 strokes
        // each); its five markers are filled.
        for colour in ["#0072B2", "#D55E00"] {
            let strokes = svg.matches(&format!(r#"stroke="{colour}""#)).count();
            assert_eq!(strokes, 1 + 1 + 4 * 3, "{colour}");
            assert_eq!(svg.matches(&format!(r#"fill="{colour}""#)).count(), 5);
        }
        let texts = texts(&svg);
        for wanted in [
            "784→10 α=0.5",
            "784→10 &lt;α=1&gt;",
            "temperature T",
            "1",
            "8",
        ] {
            assert!(texts.contains(&wanted), "{wanted} in {texts:?}");
        }
        // No series has a point at T = 16: no empty column for it.
        assert!(!texts.contains(&"16"), "{texts:?}");
        // Every numeric label is round: at most two decimals.
        for t in texts.iter().filter_map(|t| t.parse::<f64>().ok()) {
            assert_eq!(format_number(t), format_number((t * 100.0).round() / 100.0));
        }
    }

    #[test]
    fn odd_input_draws_without_nan() {
        let mut c = chart();
        c.series[0].points[1].y = f64::NAN;
        c.series[1].points[2].low = f64::INFINITY;
        c.series[1].points[3].x = 99;
        let svg = render(&c).unwrap();
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let empty = render(&Chart::default()).unwrap();
        assert!(empty.starts_with("<svg") && !empty.contains("NaN"));
    }
}
