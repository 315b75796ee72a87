//! The PNG backend: plotters' bitmap backend with our own text placement.
//!
//! plotters 0.3.7 draws every `ab_glyph` outline at the pen position without the glyph's
//! left side bearing (it drops `px_bounds().min.x`), so in the PNGs a letter after a narrow
//! one crowds or gaps ("fi xed"). This wrapper hands everything to `BitMapBackend` except
//! text, which it lays out as plotters does (advances plus kerning, same anchor box, so
//! `estimate_text_size` and every layout stay as they were) but rasterises each glyph at
//! its true position. SVG text is laid out by the viewer and needs none of this.

use ab_glyph::{point, Font, FontRef, Glyph, ScaleFont};
use plotters::backend::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

pub(super) struct PngBackend<'a> {
    inner: BitMapBackend<'a>,
    font: FontRef<'static>,
}

impl<'a> PngBackend<'a> {
    /// `font` must be the one registered with plotters for every style (the layout boxes
    /// come from plotters' own measurement of it).
    pub(super) fn new(inner: BitMapBackend<'a>, font: FontRef<'static>) -> Self {
        PngBackend { inner, font }
    }
}

type BitMapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;
type Fallible = Result<(), DrawingErrorKind<BitMapError>>;

impl DrawingBackend for PngBackend<'_> {
    type ErrorType = BitMapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Fallible {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Fallible {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Fallible {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        s: &S,
    ) -> Fallible {
        self.inner.draw_line(from, to, s)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        s: &S,
        fill: bool,
    ) -> Fallible {
        self.inner.draw_rect(upper_left, bottom_right, s, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Fallible {
        self.inner.draw_path(path, s)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        s: &S,
        fill: bool,
    ) -> Fallible {
        self.inner.draw_circle(center, radius, s, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        s: &S,
    ) -> Fallible {
        self.inner.fill_polygon(vert, s)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, (iw, ih): (u32, u32), src: &[u8]) -> Fallible {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }
    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.inner.estimate_text_size(text, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Fallible {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // The anchor box plotters measures (advances + kerning), as its default does.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -(max_x - min_x),
            HPos::Center => -(max_x - min_x) / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -(max_y - min_y) / 2,
            VPos::Bottom => -(max_y - min_y),
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let size = style.size() as f32;
        let font = self.font.as_scaled(size);
        // One baseline for every glyph, half a size below the box top as in plotters (which
        // truncates per glyph, so glyphs shorter than half the size sit a pixel high).
        let baseline = (size / 2.0).round() as i32;
        let mut pixels = Vec::new();
        let mut pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            prev = Some(id);
            let glyph = Glyph {
                id,
                scale: font.scale(),
                position: point(pen, 0.0),
            };
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                // `px_bounds` is whole pixels: the rows `draw` reports start there.
                let (x0, y0) = (b.min.x as i32, baseline + b.min.y as i32);
                outline
                    .draw(|x, y, coverage| pixels.push((x0 + x as i32, y0 + y as i32, coverage)));
            }
            pen += font.h_advance(id);
        }
        for (x, y, coverage) in pixels {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                self.inner.draw_pixel((x, y), color.mix(coverage as f64))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::Pos;

    /// Pixels (x, y) with more than half ink when `text` is drawn at `size` with the top
    /// left of its box at (10, 10).
    fn ink(text: &str, size: f64) -> Vec<(i32, i32)> {
        super::super::register_font().unwrap();
        let (w, h) = (400u32, 120u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let font = FontRef::try_from_slice(super::super::FONT).unwrap();
            let mut b = PngBackend::new(BitMapBackend::with_buffer(&mut buf, (w, h)), font);
            let style = TextStyle::from((super::super::FAMILY, size).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Top));
            b.draw_text(text, &style, (10, 10)).unwrap();
            b.present().unwrap();
        }
        (0..w as i32 * h as i32)
            .filter(|&k| buf[3 * k as usize] < 128)
            .map(|k| (k % w as i32, k / w as i32))
            .collect()
    }

    /// plotters placed each glyph's box at a truncated `size/2 + top`, which lifts glyphs
    /// shorter than half the size by a pixel at some sizes (a raised x in "index").
    #[test]
    fn flat_bottomed_glyphs_share_the_baseline() {
        for size in 10..=32 {
            let bottom = |t: &str| ink(t, size as f64).iter().map(|p| p.1).max().unwrap();
            let h = bottom("H");
            for t in ["x", "z", "n", "v", "k", "1"] {
                assert_eq!(bottom(t), h, "{t:?} at size {size}");
            }
        }
    }

    /// plotters drew every glyph at the pen without its left side bearing ("fi xed").
    #[test]
    fn glyphs_keep_their_side_bearing() {
        let font = FontRef::try_from_slice(super::super::FONT).unwrap();
        for size in [12.0f32, 20.0, 40.0] {
            let scaled = font.as_scaled(size);
            for c in ['l', 'x', 'H', 'o'] {
                let bearing = scaled.h_side_bearing(scaled.glyph_id(c));
                let left = ink(&c.to_string(), size as f64)
                    .iter()
                    .map(|p| p.0)
                    .min()
                    .unwrap();
                assert!(
                    (left as f32 - 10.0 - bearing).abs() <= 1.0,
                    "{c:?} at {size}: ink from x = {left}, bearing {bearing}"
                );
            }
            // And "il": the l starts one advance (plus its bearing) after the i.
            let il = ink("il", size as f64);
            let i = ink("i", size as f64);
            let i_right = i.iter().map(|p| p.0).max().unwrap();
            let l_left = il
                .iter()
                .map(|p| p.0)
                .filter(|&x| x > i_right)
                .min()
                .unwrap();
            let expected = 10.0
                + scaled.h_advance(scaled.glyph_id('i'))
                + scaled.kern(scaled.glyph_id('i'), scaled.glyph_id('l'))
                + scaled.h_side_bearing(scaled.glyph_id('l'));
            assert!(
                (l_left as f32 - expected).abs() <= 1.0,
                "at {size}: l from x = {l_left}, expected {expected}"
            );
        }
    }
}
