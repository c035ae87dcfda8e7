//! The weekly pipeline report's chart: the open pipeline by stage (count and value) and
//! the value won in each of the last 12 weeks, drawn with `plotters` into a bitmap and
//! encoded as PNG. Text is drawn with an embedded font (a subset of DejaVu Sans:
//! `fonts/`, made by `infra/subset-font.sh`), so nothing is read from the machine — a
//! Lambda image has no fonts.
//!
//! Only the function that posts the report links this crate (and `crm serve`): the
//! renderer and its font cost no other function a byte.

use std::sync::OnceLock;

use chrono::NaiveDate;
use crm_domain::deal::money_as;
use crm_domain::pipeline::Pipeline;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The chart's size in pixels: wide enough for Slack's preview to stay readable.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 520;

const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x2c, 0x2d, 0x30);
const MUTED: RGBColor = RGBColor(0x76, 0x78, 0x7d);
const OPEN: RGBColor = RGBColor(0x4a, 0x7b, 0xd0);
const WON: RGBColor = RGBColor(0x2e, 0x9e, 0x5b);
const RULE: RGBColor = RGBColor(0xdd, 0xde, 0xe1);

/// The report's chart renderer, for `crm_app::report`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PngChart;

impl crm_app::report::Chart for PngChart {
    fn png(&self, figures: &Pipeline, currency: &str, today: NaiveDate) -> Result<Vec<u8>, String> {
        render(figures, currency, today)
    }
}

/// Registers the embedded font once per process.
fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded font could not be read".to_owned())
        })
        .clone()
}

/// The chart as PNG bytes.
pub fn render(p: &Pipeline, currency: &str, today: NaiveDate) -> Result<Vec<u8>, String> {
    font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, p, currency, today).map_err(|e| format!("drawing the chart: {e}"))?;
        root.present()
            .map_err(|e| format!("drawing the chart: {e}"))?;
    }
    encode(&rgb)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type Drawn =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn text_style(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&color)
}

fn draw(root: &Area<'_>, p: &Pipeline, currency: &str, today: NaiveDate) -> Drawn {
    root.fill(&WHITE)?;
    let title = format!("Pipeline — week of {}", today.format("%-d %b %Y"));
    root.draw(&Text::new(title, (24, 18), text_style(26, INK)))?;
    let open: usize = p.by_stage.iter().map(|s| s.count).sum();
    let summary = format!(
        "{open} open · {} · forecast {}",
        money_as(p.open_value, currency),
        money_as(p.forecast, currency)
    );
    root.draw(&Text::new(summary, (24, 54), text_style(16, MUTED)))?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    stages(&left, p, currency)?;
    weeks(&right, p, currency)?;
    Ok(())
}

/// The open pipeline: one horizontal bar per stage, its length the stage's value.
fn stages(area: &Area<'_>, p: &Pipeline, currency: &str) -> Drawn {
    area.draw(&Text::new(
        "Open deals by stage",
        (24, 96),
        text_style(18, INK),
    ))?;
    let max = p.by_stage.iter().map(|s| s.value).fold(0.0, f64::max);
    let rows = p.by_stage.len().max(1) as i32;
    let row = ((HEIGHT as i32 - 150) / rows).clamp(24, 56);
    let (bar_x, bar_w) = (140, WIDTH as i32 / 2 - 140 - 120);
    for (i, s) in p.by_stage.iter().enumerate() {
        let y = 134 + i as i32 * row;
        area.draw(&Text::new(capital(&s.stage), (24, y), text_style(15, INK)))?;
        let len = if max > 0.0 {
            ((s.value / max) * f64::from(bar_w)).round() as i32
        } else {
            0
        };
        if len > 0 {
            area.draw(&Rectangle::new(
                [(bar_x, y - 2), (bar_x + len, y + row / 2)],
                OPEN.filled(),
            ))?;
        }
        let label = format!("{} · {}", s.count, money_as(s.value, currency));
        area.draw(&Text::new(
            label,
            (bar_x + len + 8, y),
            text_style(14, MUTED),
        ))?;
    }
    Ok(())
}

/// The value won in each of the last 12 weeks: vertical bars over a baseline.
fn weeks(area: &Area<'_>, p: &Pipeline, currency: &str) -> Drawn {
    area.draw(&Text::new(
        "Won, last 12 weeks",
        (20, 96),
        text_style(18, INK),
    ))?;
    let max = p.won_by_week.iter().map(|w| w.value).fold(0.0, f64::max);
    let (x0, base, height) = (20, HEIGHT as i32 - 56, HEIGHT as i32 - 56 - 150);
    let width = WIDTH as i32 / 2 - 44;
    let n = p.won_by_week.len().max(1) as i32;
    let slot = width / n;
    area.draw(&PathElement::new(
        vec![(x0, base), (x0 + width, base)],
        RULE,
    ))?;
    area.draw(&Text::new(
        format!("max {}", money_as(max, currency)),
        (x0, 124),
        text_style(13, MUTED),
    ))?;
    for (k, w) in p.won_by_week.iter().enumerate() {
        let x = x0 + k as i32 * slot;
        let h = if max > 0.0 {
            ((w.value / max) * f64::from(height)).round() as i32
        } else {
            0
        };
        if h > 0 {
            area.draw(&Rectangle::new(
                [(x + 4, base - h), (x + slot - 4, base)],
                WON.filled(),
            ))?;
        }
        // Every other week, counted back from this one (always labelled).
        if (p.won_by_week.len() - 1 - k).is_multiple_of(2) {
            let label = w.starts.format("%-d %b").to_string();
            area.draw(&Text::new(label, (x + 2, base + 8), text_style(12, MUTED)))?;
        }
    }
    Ok(())
}

fn capital(stage: &str) -> String {
    let mut c = stage.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => "(no stage)".to_owned(),
    }
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("encoding the chart: {e}"))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| format!("encoding the chart: {e}"))?;
    writer
        .finish()
        .map_err(|e| format!("encoding the chart: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::pipeline::{StageTotal, WEEKS, WeekWon};

    fn figures() -> Pipeline {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        Pipeline {
            by_stage: ["lead", "qualified", "proposal", "negotiation"]
                .iter()
                .enumerate()
                .map(|(i, s)| StageTotal {
                    stage: (*s).into(),
                    count: i + 1,
                    value: 10_000.0 * (i + 1) as f64,
                })
                .collect(),
            open_value: 100_000.0,
            forecast: 42_000.0,
            won_by_week: (0..WEEKS)
                .map(|k| WeekWon {
                    starts: today - chrono::Duration::days(7 * (WEEKS - k) as i64),
                    count: k % 3,
                    value: 5_000.0 * (k % 3) as f64,
                })
                .collect(),
            ..Pipeline::default()
        }
    }

    /// The PNG decodes to the chart's size, and its bars are drawn in their colours.
    #[test]
    fn the_chart_is_a_png_with_its_bars() {
        let png = render(
            &figures(),
            "euro",
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        )
        .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let has = |c: RGBColor| pixels.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        assert!(has(OPEN), "the stage bars");
        assert!(has(WON), "the weekly wins");
        assert!(has(INK), "the text");
    }

    /// An empty pipeline still draws (axes and titles, no bars).
    #[test]
    fn an_empty_pipeline_draws_without_bars() {
        let png = render(
            &Pipeline::default(),
            "dollar",
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        )
        .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
