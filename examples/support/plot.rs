//! A small RGB canvas with lines, discs, 5×7-pixel text and line charts for the examples'
//! pictures, encoded by the `png` crate. (The plotting crates draw text through system or
//! bundled TrueType fonts; a 5×7 bitmap font keeps the pictures free of both.)

pub type Rgb = [u8; 3];

/// Light and dark shades of three series colours, ink and grid lines.
pub const LIGHT: [Rgb; 3] = [[253, 218, 200], [204, 230, 204], [205, 218, 245]];
pub const DARK: [Rgb; 3] = [[214, 72, 36], [40, 140, 60], [50, 90, 200]];
pub const INK: Rgb = [30, 30, 30];
pub const GRID: Rgb = [225, 225, 225];

pub struct Canvas {
    pub w: usize,
    pub h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    pub fn new(w: usize, h: usize, bg: Rgb) -> Self {
        Canvas {
            w,
            h,
            px: vec![bg; w * h],
        }
    }

    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = c;
        }
    }

    pub fn rect(&mut self, x0: i64, y0: i64, w: i64, h: i64, c: Rgb) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.set(x, y, c);
            }
        }
    }

    /// A line `thick` pixels wide (a disc stamped along it).
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), thick: f64, c: Rgb) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) * 2.0).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            self.disc(x0 + t * (x1 - x0), y0 + t * (y1 - y0), thick / 2.0, c);
        }
    }

    pub fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.set(x, y, c);
                }
            }
        }
    }

    /// Text in the 5×7 font, each font pixel `scale`×`scale`; returns the width drawn.
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb) -> i64 {
        let mut cx = x;
        for ch in s.chars() {
            let g = glyph(ch.to_ascii_uppercase());
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.rect(cx + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
            cx += 6 * scale;
        }
        cx - x
    }

    pub fn text_width(s: &str, scale: i64) -> i64 {
        s.chars().count() as i64 * 6 * scale
    }

    /// Writes the canvas as an 8-bit RGB PNG.
    /// A line chart of per-epoch series in the panel (x, y, w, h) with y from 0 to `top`:
    /// grid, one line per (values, colour), axes, labels and `title` above.
    pub fn chart(
        &mut self,
        (qx, qy, qw, qh): (i64, i64, i64, i64),
        series: &[(&[f64], Rgb)],
        top: f64,
        title: &str,
    ) {
        for k in 1..5 {
            self.rect(qx, qy + qh * k / 5, qw, 1, GRID);
        }
        let n = series.iter().map(|s| s.0.len()).max().unwrap_or(0);
        let at = |i: usize, v: f64| {
            (
                qx as f64 + qw as f64 * i as f64 / (n.max(2) - 1) as f64,
                qy as f64 + qh as f64 * (1.0 - v.min(top) / top),
            )
        };
        for (vals, colour) in series {
            for i in 1..vals.len() {
                self.line(at(i - 1, vals[i - 1]), at(i, vals[i]), 2.5, *colour);
            }
        }
        self.rect(qx, qy, 2, qh, INK);
        self.rect(qx, qy + qh, qw, 2, INK);
        self.text(qx, qy - 22, title, 2, INK);
        for k in 0..=5 {
            let label = format!("{:.2}", top * k as f64 / 5.0);
            self.text(
                qx - 8 - Self::text_width(&label, 2),
                qy + qh - qh * k / 5 - 7,
                &label,
                2,
                INK,
            );
        }
        for k in 0..=3 {
            let label = (n * k / 3).max(usize::from(k > 0)).to_string();
            let xk = qx + qw * k as i64 / 3;
            self.text(xk - Self::text_width(&label, 2) / 2, qy + qh + 8, &label, 2, INK);
        }
        self.text(
            qx + qw / 2 - Self::text_width("EPOCH", 2) / 2,
            qy + qh + 28,
            "EPOCH",
            2,
            INK,
        );
    }

    /// Encodes the canvas as an 8-bit RGB PNG (the `png` crate).
    pub fn write_png(&self, path: &std::path::Path) -> Result<(), png::EncodingError> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut enc = png::Encoder::new(file, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header()?;
        writer.write_image_data(self.px.as_flattened())?;
        writer.finish()
    }
}

/// 5×7 glyphs, one byte per row (bit 4 = leftmost column).
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0; 7],
    }
}
