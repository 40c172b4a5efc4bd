//! SVG line charts with error bars, for the study's report; no dependency to build.
//!
//! A [`Chart`] holds [`Series`] of [`Point`]s, each with an interval (low..high)
//! drawn as an error bar. Axes get round tick values (1, 2 or 5 × 10^k on linear
//! axes; the data's own x values, or 1-2-5 steps, or decades on a log axis; the
//! category names on a categorical axis), thinned until their labels do not
//! overlap. Colours are the Okabe–Ito colour-blind-safe palette, and every series
//! also has its own marker shape.

use std::fmt::Write;

/// One plotted value with its interval (e.g. a mean and its 95 % CI). `low` and
/// `high` equal to `y` (or not finite) draw no error bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Position on the x axis (an index into [`Chart::x_categories`] when that is set).
    pub x: f64,
    /// The value.
    pub y: f64,
    /// Lower end of the error bar.
    pub low: f64,
    /// Upper end of the error bar.
    pub high: f64,
}

impl Point {
    /// A point without an error bar.
    #[cfg(test)]
    pub fn exact(x: f64, y: f64) -> Self {
        Point {
            x,
            y,
            low: y,
            high: y,
        }
    }
}

/// One line of a chart, with its legend text.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The points; drawn joined in x order. Points with a non-finite x or y (or
    /// x ≤ 0 on a log axis) are left out.
    pub points: Vec<Point>,
}

/// A line chart with error bars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Title, above the plot.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label beside the y axis.
    pub y_label: String,
    /// Put x on a log scale (ignored for a categorical axis).
    pub log_x: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// When set, the x axis is categorical: point `x` values are indices into
    /// these names, drawn evenly spaced in this order.
    pub x_categories: Option<Vec<String>>,
}

/// The Okabe–Ito palette (yellow left out: too pale on white).
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

const FONT: f64 = 12.0;
/// A generous estimate of the advance of one character at [`FONT`] px.
const CHAR_W: f64 = 7.0;
const PLOT_W: f64 = 560.0;
const PLOT_H: f64 = 360.0;
/// Inner padding of the plot area, so that points are not drawn on the frame.
const INSET: f64 = 14.0;

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// Formats a number rounded to four significant digits, in its shortest form:
/// `0.001`, `2.5`, `1e-5`; never float noise such as `0.0010000000474974513`.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let r: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    let a = r.abs();
    if (1e-4..1e7).contains(&a) {
        format!("{r}")
    } else {
        format!("{r:e}")
    }
}

/// A tick: its position in axis units and its label.
struct Tick {
    at: f64,
    label: String,
}

/// An axis: the shown range in axis units (log10 of x on a log axis), its ticks,
/// and the pixel interval it maps onto.
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<Tick>,
    log: bool,
    pixel_from: f64,
    pixel_to: f64,
}

impl Axis {
    /// Axis units of a data value.
    fn unit(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    /// Pixel of a value in axis units.
    fn pixel_of_unit(&self, u: f64) -> f64 {
        let span = self.hi - self.lo;
        let frac = if span > 0.0 {
            (u - self.lo) / span
        } else {
            0.5
        };
        let (a, b) = if self.pixel_to > self.pixel_from {
            (self.pixel_from + INSET, self.pixel_to - INSET)
        } else {
            (self.pixel_from - INSET, self.pixel_to + INSET)
        };
        a + frac * (b - a)
    }

    /// Pixel of a data value.
    fn pixel(&self, v: f64) -> f64 {
        self.pixel_of_unit(self.unit(v))
    }
}

/// The 1, 2, 5 × 10^k step nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Round ticks covering [lo, hi], about `target` of them; returns the ticks and
/// the range widened to the outer ticks.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64, f64) {
    // Never finer than four significant digits of the largest magnitude, so
    // every label is exact with at most four.
    let biggest = lo.abs().max(hi.abs());
    let floor = 10f64.powf(biggest.log10().floor() - 3.0);
    let step = nice_step(((hi - lo) / target.max(1) as f64).max(floor));
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    let ticks: Vec<f64> = (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect();
    let (a, b) = (first as f64 * step, last as f64 * step);
    (ticks, a, b)
}

/// The range of finite values, widened when it is a single value; (0, 1) when
/// there are none.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo <= hi.abs().max(lo.abs()) * 1e-12 {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// Whether tick labels along a horizontal axis leave room between them.
fn fits_horizontally(axis: &Axis) -> bool {
    let mut placed: Vec<(f64, f64)> = axis
        .ticks
        .iter()
        .map(|t| (axis.pixel_of_unit(t.at), text_width(&t.label)))
        .collect();
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    placed
        .windows(2)
        .all(|w| w[1].0 - w[0].0 >= (w[0].1 + w[1].1) / 2.0 + 8.0)
}

fn x_axis(chart: &Chart, xs: &[f64], left: f64) -> Axis {
    let mut axis = Axis {
        lo: 0.0,
        hi: 1.0,
        ticks: Vec::new(),
        log: false,
        pixel_from: left,
        pixel_to: left + PLOT_W,
    };
    if let Some(categories) = &chart.x_categories {
        let data_max = xs.iter().copied().fold(-1.0, f64::max);
        let n = (categories.len() as f64)
            .max(data_max.floor() + 1.0)
            .max(1.0);
        (axis.lo, axis.hi) = (-0.5, n - 0.5);
        for every in 1..=categories.len().max(1) {
            axis.ticks = categories
                .iter()
                .enumerate()
                .step_by(every)
                .map(|(i, name)| Tick {
                    at: i as f64,
                    label: name.clone(),
                })
                .collect();
            if fits_horizontally(&axis) {
                break;
            }
        }
        return axis;
    }
    if chart.log_x {
        axis.log = true;
        let logs: Vec<f64> = xs.iter().filter(|&&x| x > 0.0).map(|x| x.log10()).collect();
        let (lo, hi) = if logs.is_empty() {
            (0.0, 1.0)
        } else {
            let (lo, hi) = range(logs.iter().copied());
            if hi - lo < 1e-9 {
                (lo - 0.5, hi + 0.5)
            } else {
                (lo, hi)
            }
        };
        (axis.lo, axis.hi) = (lo, hi);
        let tick = |x: f64| Tick {
            at: x.log10(),
            label: format_number(x),
        };
        let mut candidates: Vec<Vec<Tick>> = Vec::new();
        let mut data: Vec<f64> = xs.iter().copied().filter(|&x| x > 0.0).collect();
        data.sort_by(f64::total_cmp);
        data.dedup_by(|a, b| format_number(*a) == format_number(*b));
        if (2..=12).contains(&data.len()) {
            candidates.push(data.iter().map(|&x| tick(x)).collect());
        }
        let (d0, d1) = ((lo - 1e-9).floor() as i32, (hi + 1e-9).ceil() as i32);
        let inside = |x: f64| (lo - 1e-9..=hi + 1e-9).contains(&x.log10());
        let decade = |k: i32| format_number(10f64.powi(k)).parse::<f64>().unwrap_or(1.0);
        let one_two_five: Vec<Tick> = (d0..=d1)
            .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * decade(k)))
            .filter(|&x| inside(x))
            .map(tick)
            .collect();
        candidates.push(one_two_five);
        for every in 1..=((d1 - d0).max(1) as usize) {
            candidates.push(
                (d0..=d1)
                    .filter(|k| ((k - d0) as usize).is_multiple_of(every))
                    .map(decade)
                    .filter(|&x| inside(x))
                    .map(tick)
                    .collect(),
            );
        }
        // The first set of at least two ticks that fits; else the first that fits;
        // else the two ends of the range.
        let mut chosen = None;
        for wanted in [2, 1] {
            for c in &candidates {
                axis.ticks = c
                    .iter()
                    .map(|t| Tick {
                        at: t.at,
                        label: t.label.clone(),
                    })
                    .collect();
                if c.len() >= wanted && fits_horizontally(&axis) {
                    chosen = Some(axis.ticks.len());
                    break;
                }
            }
            if chosen.is_some() {
                break;
            }
        }
        if chosen.is_none() {
            axis.ticks = [lo, hi].map(|u| tick(10f64.powf(u))).into();
            if !fits_horizontally(&axis) {
                axis.ticks.truncate(1);
            }
        }
        return axis;
    }
    let (lo, hi) = range(xs.iter().copied());
    for target in [8, 6, 5, 4, 3, 2, 1] {
        let (ticks, a, b) = linear_ticks(lo, hi, target);
        (axis.lo, axis.hi) = (a, b);
        axis.ticks = labelled(ticks);
        if fits_horizontally(&axis) {
            break;
        }
    }
    axis
}

fn y_axis(values: &[f64], top: f64) -> Axis {
    let (lo, hi) = range(values.iter().copied());
    let mut axis = Axis {
        lo,
        hi,
        ticks: Vec::new(),
        log: false,
        pixel_from: top + PLOT_H,
        pixel_to: top,
    };
    for target in [6, 5, 4, 3, 2, 1] {
        let (ticks, a, b) = linear_ticks(lo, hi, target);
        (axis.lo, axis.hi) = (a, b);
        axis.ticks = labelled(ticks);
        let spacing = (PLOT_H - 2.0 * INSET) / (axis.ticks.len().max(2) - 1) as f64;
        if spacing >= FONT * 1.6 {
            break;
        }
    }
    axis
}

/// Draws the marker of series `k` centred at (x, y).
fn marker(svg: &mut String, k: usize, x: f64, y: f64, colour: &str) {
    let style = format!(r#"fill="{colour}" stroke="white" stroke-width="1""#);
    let _ = match k % 5 {
        0 => writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.2" {style}/>"#),
        1 => writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="7.6" height="7.6" {style}/>"#,
            x - 3.8,
            y - 3.8
        ),
        2 => writeln!(
            svg,
            r#"<path d="M{x:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z" {style}/>"#,
            y - 5.0,
            x + 4.6,
            y + 3.6,
            x - 4.6,
            y + 3.6
        ),
        3 => writeln!(
            svg,
            r#"<path d="M{x:.1},{:.1}L{:.1},{y:.1}L{x:.1},{:.1}L{:.1},{y:.1}Z" {style}/>"#,
            y - 5.2,
            x + 5.2,
            y + 5.2,
            x - 5.2
        ),
        _ => writeln!(
            svg,
            r#"<path d="M{x:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z" {style}/>"#,
            y + 5.0,
            x + 4.6,
            y - 3.6,
            x - 4.6,
            y - 3.6
        ),
    };
}

/// Renders the chart as a complete SVG document.
pub fn render(chart: &Chart) -> String {
    let log_x = chart.log_x && chart.x_categories.is_none();
    let usable = |p: &Point| p.x.is_finite() && p.y.is_finite() && (!log_x || p.x > 0.0);
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter(|p| usable(p)).map(|p| p.x))
        .collect();
    let ys: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter(|p| usable(p)))
        .flat_map(|p| [p.y, p.low, p.high])
        .filter(|v| v.is_finite())
        .collect();

    let top = 48.0;
    let y_axis = y_axis(&ys, top);
    let y_tick_w = y_axis
        .ticks
        .iter()
        .map(|t| text_width(&t.label))
        .fold(0.0, f64::max);
    let left = 14.0 + FONT + 12.0 + y_tick_w + 8.0;
    let x_axis = x_axis(chart, &xs, left);
    let legend_w = chart
        .series
        .iter()
        .map(|s| text_width(&s.name) + 52.0)
        .fold(0.0, f64::max);
    let legend_x = left + PLOT_W + 18.0;
    let plot_bottom = top + PLOT_H;
    let height = plot_bottom + 62.0;
    // The title is bold at 15 px: about 9.3 px a character.
    let title_w = chart.title.chars().count() as f64 * 9.3;
    let width = (legend_x + legend_w + 12.0).max(title_w + 24.0).ceil();
    let title_x = (left + PLOT_W / 2.0).clamp(
        title_w / 2.0 + 12.0,
        (width - title_w / 2.0 - 12.0).max(title_w / 2.0 + 12.0),
    );

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/>
<text x="{:.1}" y="28" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        title_x,
        escape(&chart.title)
    );

    // Grid and ticks.
    for t in &y_axis.ticks {
        let y = y_axis.pixel_of_unit(t.at);
        let _ = writeln!(
            svg,
            r##"<line x1="{left:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text class="ytick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + PLOT_W,
            left - 6.0,
            y + 4.0,
            escape(&t.label)
        );
    }
    for t in &x_axis.ticks {
        let x = x_axis.pixel_of_unit(t.at);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{plot_bottom:.1}" stroke="#f0f0f0"/><line x1="{x:.1}" x2="{x:.1}" y1="{plot_bottom:.1}" y2="{:.1}" stroke="#555"/><text class="xtick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            plot_bottom + 4.0,
            plot_bottom + 18.0,
            escape(&t.label)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{left:.1}" y="{top:.1}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#555"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>
<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        left + PLOT_W / 2.0,
        plot_bottom + 42.0,
        escape(&chart.x_label),
        14.0 + FONT / 2.0 + 4.0,
        top + PLOT_H / 2.0,
        escape(&chart.y_label)
    );
    if xs.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">no data</text>"##,
            left + PLOT_W / 2.0,
            top + PLOT_H / 2.0
        );
    }

    // Series side by side at shared x positions ("dodged") so that their error
    // bars do not hide one another.
    let mut pixels: Vec<f64> = xs.iter().map(|&x| x_axis.pixel(x)).collect();
    pixels.sort_by(f64::total_cmp);
    pixels.dedup_by(|a, b| (*a - *b).abs() < 0.5);
    let min_gap = pixels
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(PLOT_W, f64::min);
    let drawn = chart.series.len().max(1) as f64;
    let dodge = if drawn > 1.0 {
        (0.5 * min_gap / drawn).min(7.0)
    } else {
        0.0
    };

    for (k, s) in chart.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let offset = (k as f64 - (drawn - 1.0) / 2.0) * dodge;
        let mut points: Vec<&Point> = s.points.iter().filter(|p| usable(p)).collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let _ = writeln!(svg, r#"<g class="series" data-name="{}">"#, attr(&s.name));
        if points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|p| format!("{:.1},{:.1}", x_axis.pixel(p.x) + offset, y_axis.pixel(p.y)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.8" stroke-opacity="0.85"/>"#,
                path.join(" ")
            );
        }
        for p in &points {
            let x = x_axis.pixel(p.x) + offset;
            if p.low.is_finite() && p.high.is_finite() && p.high > p.low {
                let (y0, y1) = (y_axis.pixel(p.low), y_axis.pixel(p.high));
                let _ = writeln!(
                    svg,
                    r#"<path class="errbar" d="M{x:.1},{y0:.1}V{y1:.1}M{:.1},{y0:.1}H{:.1}M{:.1},{y1:.1}H{:.1}" stroke="{colour}" stroke-width="1.5" fill="none"/>"#,
                    x - 4.0,
                    x + 4.0,
                    x - 4.0,
                    x + 4.0
                );
            }
        }
        for p in &points {
            marker(
                &mut svg,
                k,
                x_axis.pixel(p.x) + offset,
                y_axis.pixel(p.y),
                colour,
            );
        }
        svg.push_str("</g>\n");
    }

    // Legend.
    if !chart.series.is_empty() {
        let rows = chart.series.len() as f64;
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="white" stroke="#ccc"/>"##,
            legend_x - 6.0,
            legend_w,
            rows * 20.0 + 8.0
        );
    }
    for (k, s) in chart.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let y = top + 14.0 + 20.0 * k as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="1.8"/>"#,
            legend_x + 26.0
        );
        marker(&mut svg, k, legend_x + 13.0, y, colour);
        let _ = writeln!(
            svg,
            r#"<text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 32.0,
            y + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn attr(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// Ticks at `values`, each labelled with its rounded value.
fn labelled(values: Vec<f64>) -> Vec<Tick> {
    values
        .into_iter()
        .map(|v| Tick {
            at: v,
            label: format_number(v),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(svg: &str, class: &str) -> Vec<String> {
        let open = format!(r#"<text class="{class}""#);
        svg.split(&open)
            .skip(1)
            .map(|rest| {
                let start = rest.find('>').unwrap() + 1;
                let end = rest.find("</text>").unwrap();
                rest[start..end].to_string()
            })
            .collect()
    }

    fn significant_digits(label: &str) -> usize {
        let mantissa = label.trim_start_matches('-').split('e').next().unwrap();
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        digits.trim_start_matches('0').trim_end_matches('0').len()
    }

    fn assert_round_ticks(svg: &str) {
        for class in ["xtick", "ytick"] {
            let ls = labels(svg, class);
            assert!(!ls.is_empty(), "no {class} labels");
            for l in ls {
                assert!(
                    l.parse::<f64>().is_ok(),
                    "{class} label {l:?} does not parse"
                );
                assert!(
                    significant_digits(&l) <= 4,
                    "{class} label {l:?} is not round"
                );
            }
        }
    }

    fn sane(svg: &str) {
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    fn learning_rate_chart() -> Chart {
        let rates = [0.0003_f32, 0.001, 0.003, 0.01, 0.03];
        let series = ["teacher", "784→10 direct", "784→10 KD <T=4>"]
            .iter()
            .enumerate()
            .map(|(k, name)| Series {
                name: name.to_string(),
                points: rates
                    .iter()
                    .enumerate()
                    .map(|(i, &r)| {
                        let y = 90.0 + k as f64 + i as f64 * 0.37;
                        Point {
                            x: f64::from(r),
                            y,
                            low: y - 0.4,
                            high: y + 0.3,
                        }
                    })
                    .collect(),
            })
            .collect();
        Chart {
            title: "Validation accuracy against learning rate".into(),
            x_label: "learning rate".into(),
            y_label: "accuracy (%)".into(),
            log_x: true,
            series,
            x_categories: None,
        }
    }

    #[test]
    fn numbers_are_short_and_round() {
        assert_eq!(format_number(f64::from(0.001_f32)), "0.001");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(3.0 * 0.1), "0.3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1234.5678), "1235");
        assert_eq!(format_number(0.00003), "3e-5");
        assert_eq!(format_number(25_000_000.0), "2.5e7");
        assert_eq!(format_number(97.25), "97.25");
    }

    #[test]
    fn chart_has_every_series_bar_and_round_ticks() {
        let chart = learning_rate_chart();
        let svg = render(&chart);
        sane(&svg);
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches(r#"class="errbar""#).count(), 15);
        assert_eq!(labels(&svg, "legend").len(), 3);
        assert!(svg.contains("KD &lt;T=4&gt;"));
        assert_round_ticks(&svg);
        // The data's own rates label the log axis, without f32 noise.
        assert_eq!(
            labels(&svg, "xtick"),
            ["0.0003", "0.001", "0.003", "0.01", "0.03"]
        );
    }

    #[test]
    fn y_axis_covers_every_interval() {
        let mut chart = learning_rate_chart();
        chart.series[0].points[2].low = 71.3;
        chart.series[1].points[4].high = 99.7;
        let svg = render(&chart);
        sane(&svg);
        let ys: Vec<f64> = labels(&svg, "ytick")
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        assert!(ys[0] <= 71.3 && *ys.last().unwrap() >= 99.7, "{ys:?}");
        assert!(ys.windows(2).all(|w| w[1] > w[0]));
        assert_round_ticks(&svg);
    }

    #[test]
    fn linear_and_log_axes_stay_round_and_readable() {
        for (log_x, xs) in [
            (false, vec![0.0, 0.1, 0.2, 0.3, 0.7, 1.0]),
            (false, vec![1000.0, 5000.0, 10000.0]),
            (false, vec![-3.3, 123_456.0]),
            (true, vec![1.0, 2.0, 4.0, 8.0, 16.0]),
            (true, (0..40).map(|i| 1.3f64.powi(i) * 1e-4).collect()),
            (true, vec![1e-6, 1e6]),
            (true, vec![3.0, 7.0]),
        ] {
            let chart = Chart {
                log_x,
                series: vec![Series {
                    name: "s".into(),
                    points: xs
                        .iter()
                        .map(|&x| Point::exact(x, x.abs().sqrt()))
                        .collect(),
                }],
                ..Chart::default()
            };
            let svg = render(&chart);
            sane(&svg);
            assert_round_ticks(&svg);
            // Labels never overlap: centres further apart than half their widths.
            let mut centres: Vec<(f64, usize)> = svg
                .split(r#"<text class="xtick" x=""#)
                .skip(1)
                .map(|rest| {
                    let x: f64 = rest[..rest.find('"').unwrap()].parse().unwrap();
                    let len = rest[rest.find('>').unwrap() + 1..rest.find("</text>").unwrap()]
                        .chars()
                        .count();
                    (x, len)
                })
                .collect();
            centres.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in centres.windows(2) {
                let room = (w[0].1 + w[1].1) as f64 * CHAR_W / 2.0;
                assert!(w[1].0 - w[0].0 >= room, "{xs:?}: {centres:?}");
            }
        }
    }

    #[test]
    fn axis_ends_at_the_nearest_round_values() {
        let chart = Chart {
            series: vec![Series {
                name: "s".into(),
                points: (0..50)
                    .map(|i| Point::exact(f64::from(i) * 0.37, 0.5))
                    .collect(),
            }],
            ..Chart::default()
        };
        let svg = render(&chart);
        let xs = labels(&svg, "xtick");
        assert_eq!(xs.first().map(String::as_str), Some("0"), "{xs:?}");
        assert_eq!(xs.last().map(String::as_str), Some("20"), "{xs:?}");
        let (ticks, lo, hi) = linear_ticks(0.0, 18.13, 4);
        assert_eq!((lo, hi), (0.0, 20.0));
        assert_eq!(ticks, [0.0, 5.0, 10.0, 15.0, 20.0]);
    }

    #[test]
    fn categorical_axis() {
        let chart = Chart {
            title: "KD by T".into(),
            x_label: "T".into(),
            y_label: "accuracy".into(),
            log_x: true,
            series: vec![
                Series {
                    name: "a".into(),
                    points: (0..4)
                        .map(|i| Point::exact(f64::from(i), 91.0 + f64::from(i)))
                        .collect(),
                },
                Series {
                    name: "b".into(),
                    points: (0..4)
                        .map(|i| Point {
                            x: f64::from(i),
                            y: 92.0,
                            low: 91.5,
                            high: 92.5,
                        })
                        .collect(),
                },
            ],
            x_categories: Some(["1", "2", "4", "8"].map(String::from).to_vec()),
        };
        let svg = render(&chart);
        sane(&svg);
        assert_eq!(labels(&svg, "xtick"), ["1", "2", "4", "8"]);
        assert_eq!(svg.matches(r#"class="errbar""#).count(), 4);
    }

    #[test]
    fn odd_inputs_do_not_panic_or_emit_nan() {
        let empty = Chart::default();
        sane(&render(&empty));
        let cases = [
            vec![],
            vec![Point::exact(1.0, 0.5)],
            vec![Point::exact(2.0, 7.0), Point::exact(3.0, 7.0)],
            vec![Point::exact(0.0, 0.0), Point::exact(0.0, 0.0)],
            vec![
                Point {
                    x: f64::NAN,
                    y: 1.0,
                    low: 0.0,
                    high: 2.0,
                },
                Point {
                    x: 1.0,
                    y: 1.0,
                    low: f64::NAN,
                    high: f64::INFINITY,
                },
                Point::exact(-1.0, 2.0),
            ],
        ];
        for points in cases {
            for log_x in [false, true] {
                for categorical in [false, true] {
                    let chart = Chart {
                        title: "odd".into(),
                        log_x,
                        series: vec![Series {
                            name: "only".into(),
                            points: points.clone(),
                        }],
                        x_categories: categorical.then(Vec::new),
                        ..Chart::default()
                    };
                    let svg = render(&chart);
                    sane(&svg);
                    if !categorical {
                        assert_round_ticks(&svg);
                    }
                }
            }
        }
    }

    #[test]
    #[ignore = "writes /tmp/mimic-chart-*.svg to look at"]
    fn write_samples() {
        std::fs::write("/tmp/mimic-chart-lr.svg", render(&learning_rate_chart())).unwrap();
        let chart = Chart {
            title:
                "Test accuracy against temperature (tuned protocol, mean and 95% CI over 20 seeds)"
                    .into(),
            x_label: "temperature T".into(),
            y_label: "test accuracy (%)".into(),
            log_x: false,
            series: [
                "784→10 KD α=0.5",
                "784→10 KD α=1",
                "784→10 direct",
                "784→10 MSE",
            ]
            .iter()
            .enumerate()
            .map(|(k, n)| Series {
                name: n.to_string(),
                points: (0..4)
                    .map(|i| {
                        let y = 91.6 + 0.15 * k as f64 + 0.1 * f64::from(i) * (k as f64 - 1.5);
                        Point {
                            x: f64::from(i),
                            y,
                            low: y - 0.12,
                            high: y + 0.1,
                        }
                    })
                    .collect(),
            })
            .collect(),
            x_categories: Some(["1", "2", "4", "8"].map(String::from).to_vec()),
        };
        std::fs::write("/tmp/mimic-chart-t.svg", render(&chart)).unwrap();
        let single = Chart {
            title: "one point".into(),
            log_x: true,
            series: vec![Series {
                name: "only".into(),
                points: vec![Point {
                    x: 0.001,
                    y: 97.0,
                    low: 96.5,
                    high: 97.2,
                }],
            }],
            ..Chart::default()
        };
        std::fs::write("/tmp/mimic-chart-single.svg", render(&single)).unwrap();
        std::fs::write("/tmp/mimic-chart-empty.svg", render(&Chart::default())).unwrap();
        let dense = Chart {
            title: "dense linear".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: (0..3)
                .map(|k| Series {
                    name: format!("series {k}"),
                    points: (0..50)
                        .map(|i| {
                            let y = 1.0 / (1.0 + f64::from(i)) + 0.05 * f64::from(k);
                            Point {
                                x: f64::from(i) * 0.37,
                                y,
                                low: y * 0.9,
                                high: y * 1.1,
                            }
                        })
                        .collect(),
                })
                .collect(),
            ..Chart::default()
        };
        std::fs::write("/tmp/mimic-chart-dense.svg", render(&dense)).unwrap();
        let wide = Chart {
            title: "wide log".into(),
            log_x: true,
            series: vec![Series {
                name: "s".into(),
                points: (0..40)
                    .map(|i| Point::exact(1.5f64.powi(i) * 1e-4, f64::from(i % 7)))
                    .collect(),
            }],
            ..Chart::default()
        };
        std::fs::write("/tmp/mimic-chart-wide.svg", render(&wide)).unwrap();
    }
}
