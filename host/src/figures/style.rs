//! Shared look of the figures: one colour per architecture (Okabe–Ito, colour-blind safe),
//! one marker per activation (tanh circle, ReLU triangle), one colour per
//! stability index, text sizes, and a legend strip drawn outside the plot areas.

use super::{DrawResult, FAMILY};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Architectures in display order.
pub(super) const ARCHS: [&str; 4] = ["vanilla", "ugrnn", "gru", "lstm"];

pub(super) const TITLE_SIZE: u32 = 26;
pub(super) const PANEL_TITLE_SIZE: u32 = 19;
pub(super) const LABEL_SIZE: u32 = 15;
pub(super) const DESC_SIZE: u32 = 17;
pub(super) const LEGEND_SIZE: u32 = 17;
/// Height of the figure title band.
pub(super) const TITLE_BAND: u32 = 46;
/// Height of the legend strip.
pub(super) const LEGEND_BAND: u32 = 44;

pub(super) fn arch_colour(arch: &str) -> RGBColor {
    match arch {
        "vanilla" => RGBColor(0, 114, 178),
        "ugrnn" => RGBColor(230, 159, 0),
        "gru" => RGBColor(0, 158, 115),
        "lstm" => RGBColor(204, 121, 167),
        _ => RGBColor(100, 100, 100),
    }
}

pub(super) fn arch_label(arch: &str) -> String {
    match arch {
        "vanilla" => "Vanilla".into(),
        "ugrnn" => "UGRNN".into(),
        "gru" => "GRU".into(),
        "lstm" => "LSTM".into(),
        other => other.into(),
    }
}

/// Colour of a fixed point's stability index (number of unstable directions).
pub(super) fn stability_colour(index: i64) -> RGBColor {
    match index {
        0 => RGBColor(20, 20, 20),
        1 => RGBColor(213, 94, 0),
        2 => RGBColor(86, 180, 233),
        i if i >= 3 => RGBColor(148, 103, 189),
        _ => RGBColor(160, 160, 160),
    }
}

pub(super) fn stability_label(index: i64) -> &'static str {
    match index {
        0 => "stable (index 0)",
        1 => "index 1 (1 unstable dim)",
        2 => "index 2",
        i if i >= 3 => "index 3+",
        _ => "unknown",
    }
}

pub(super) const INPUT: RGBColor = RGBColor(140, 140, 140);
/// Slow points (crosses): dark grey, apart from the stability colours.
pub(super) const SLOW_POINT: RGBColor = RGBColor(70, 70, 70);

pub(super) fn text(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// The glyph of a legend entry (also how points are drawn in the plots).
#[derive(Clone, Copy, Debug)]
pub(super) enum Glyph {
    /// Filled circle.
    Dot(RGBColor),
    /// Triangle (plotters fills it).
    Triangle(RGBColor),
    /// Small filled circle.
    SmallDot(RGBColor),
    /// Diagonal cross.
    Cross(RGBColor),
    /// Solid line.
    Line(RGBColor, u32),
    /// Dashed line.
    Dashed(RGBColor),
    /// Filled band.
    Band(RGBColor),
}

/// Marker of an activation function in the architecture's colour.
pub(super) fn activation_glyph(activation: &str, colour: RGBColor) -> Glyph {
    if activation == "relu" {
        Glyph::Triangle(colour)
    } else {
        Glyph::Dot(colour)
    }
}

/// Draws `glyph` centred at pixel `(x, y)` with radius `r`.
pub(super) fn draw_glyph<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    glyph: Glyph,
    (x, y): (i32, i32),
    r: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match glyph {
        Glyph::Dot(c) => area.draw(&Circle::new((x, y), r, c.filled()))?,
        Glyph::SmallDot(c) => area.draw(&Circle::new((x, y), 3, c.filled()))?,
        Glyph::Triangle(c) => area.draw(&TriangleMarker::new((x, y), r + 1, c.stroke_width(2)))?,
        Glyph::Cross(c) => area.draw(&Cross::new((x, y), r, c.stroke_width(2)))?,
        Glyph::Line(c, w) => area.draw(&PathElement::new(
            vec![(x - 14, y), (x + 14, y)],
            c.stroke_width(w),
        ))?,
        Glyph::Dashed(c) => {
            for k in 0..3 {
                let x0 = x - 14 + 10 * k;
                area.draw(&PathElement::new(
                    vec![(x0, y), (x0 + 6, y)],
                    c.stroke_width(2),
                ))?;
            }
        }
        Glyph::Band(c) => area.draw(&Rectangle::new(
            [(x - 12, y - 6), (x + 12, y + 6)],
            c.mix(0.3).filled(),
        ))?,
    }
    Ok(())
}

/// Draws a point marker in data coordinates.
pub(super) fn plot_glyph<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    glyph: Glyph,
    points: &[(f64, f64)],
    r: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pts = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    match glyph {
        Glyph::Dot(c) => {
            chart.draw_series(pts.map(|p| Circle::new(p, r, c.filled())))?;
        }
        Glyph::SmallDot(c) => {
            chart.draw_series(pts.map(|p| Circle::new(p, 3, c.filled())))?;
        }
        Glyph::Triangle(c) => {
            chart.draw_series(pts.map(|p| TriangleMarker::new(p, r + 1, c.stroke_width(2))))?;
        }
        Glyph::Cross(c) => {
            chart.draw_series(pts.map(|p| Cross::new(p, r, c.stroke_width(2))))?;
        }
        Glyph::Line(c, w) => {
            chart.draw_series(LineSeries::new(pts, c.stroke_width(w)))?;
        }
        Glyph::Dashed(c) => {
            chart.draw_series(DashedLineSeries::new(pts, 6, 4, c.stroke_width(2)))?;
        }
        Glyph::Band(_) => {}
    }
    Ok(())
}

/// A centred row of legend entries across `area` (wrapping to a second line if needed).
pub(super) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(Glyph, String)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = text(LEGEND_SIZE);
    let (w, h) = area.dim_in_pixel();
    let widths: Vec<i32> = items
        .iter()
        .map(|(_, label)| {
            area.estimate_text_size(label, &style)
                .map(|(tw, _)| 36 + tw as i32 + 26)
        })
        .collect::<Result<_, _>>()?;
    // Greedy line breaking.
    let mut lines: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, &iw) in widths.iter().enumerate() {
        if used + iw > w as i32 - 20 && !lines.last().is_some_and(|l| l.is_empty()) {
            lines.push(Vec::new());
            used = 0;
        }
        if let Some(l) = lines.last_mut() {
            l.push(i);
        }
        used += iw;
    }
    let line_h = h as i32 / lines.len() as i32;
    for (li, line) in lines.iter().enumerate() {
        let total: i32 = line.iter().map(|&i| widths[i]).sum();
        let mut x = (w as i32 - total) / 2;
        let y = li as i32 * line_h + line_h / 2;
        for &i in line {
            let (glyph, label) = &items[i];
            draw_glyph(area, *glyph, (x + 14, y), 6)?;
            area.draw(&Text::new(
                label.clone(),
                (x + 34, y),
                style.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += widths[i];
        }
    }
    Ok(())
}

/// Two drawing areas.
pub(super) type Areas<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Draws the title band and returns (body, legend band) of a figure.
pub(super) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend_lines: u32,
) -> Result<Areas<DB>, super::FigureError>
where
    DB::ErrorType: 'static,
{
    let (_, h) = root.dim_in_pixel();
    let (top, rest) = root.split_vertically(TITLE_BAND);
    let (w, _) = top.dim_in_pixel();
    top.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, TITLE_BAND as i32 / 2 + 2),
        (FAMILY, TITLE_SIZE)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let band = LEGEND_BAND * legend_lines;
    let (body, bottom) = rest.split_vertically(h - TITLE_BAND - band);
    Ok((body, bottom))
}

/// A 2-D chart with the house style: panel caption, axis descriptions, light grid.
pub(super) fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x: (f64, f64),
    y: (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, super::FigureError>
where
    DB::ErrorType: 'static,
{
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .margin_right(18)
        .x_label_area_size(46)
        .y_label_area_size(62);
    if !caption.is_empty() {
        b.caption(caption, text(PANEL_TITLE_SIZE));
    }
    let mut c = b.build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(text(LABEL_SIZE))
        .axis_desc_style(text(DESC_SIZE))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .bold_line_style(BLACK.mix(0.10))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.6))
        .draw()?;
    Ok(c)
}

/// Tick label: few digits, no "-0".
pub(super) fn tick(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 || a < 1e-9 {
        "0".to_string()
    } else if !(0.01..1000.0).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    let s = if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}
