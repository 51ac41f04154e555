//! The look of the application, in one place: colours (one per fiche status, used the same way
//! everywhere), spacing, and the bundled font.
//!
//! The font is Noto Sans (regular and bold, SIL Open Font License, `admin-gui/fonts/OFL.txt`),
//! embedded in the program: crisp at any scaling, full French coverage including the narrow
//! no-break space (U+202F) of French numbers and punctuation. It is the only font: a glyph it
//! lacks is a defect that the tests catch (kittest panics on missing glyphs).

use egui::{
    Color32, CornerRadius, FontData, FontDefinitions, FontFamily, FontId, Stroke, TextStyle,
};

/// The regular weight, used for all text.
const REGULAR: &[u8] = include_bytes!("../fonts/NotoSans-Regular.ttf");
/// The bold weight, for section titles and the primary action.
const BOLD: &[u8] = include_bytes!("../fonts/NotoSans-Bold.ttf");

/// The font family of bold text.
pub fn bold_family() -> FontFamily {
    FontFamily::Name("bold".into())
}

// The palette: a sober blue-grey for the chrome, white forms on a light grey page.
pub const ACCENT: Color32 = Color32::from_rgb(0x1F, 0x4E, 0x79);
pub const ACCENT_HOVER: Color32 = Color32::from_rgb(0x2A, 0x62, 0x95);
pub const PAGE: Color32 = Color32::from_rgb(0xF3, 0xF4, 0xF6);
pub const PANEL: Color32 = Color32::WHITE;
pub const NAV: Color32 = Color32::from_rgb(0xE8, 0xEC, 0xF1);
pub const TOP_BAR: Color32 = Color32::from_rgb(0x1F, 0x4E, 0x79);
pub const TEXT: Color32 = Color32::from_rgb(0x1F, 0x23, 0x28);
pub const TEXT_MUTED: Color32 = Color32::from_rgb(0x5B, 0x63, 0x6E);
pub const BORDER: Color32 = Color32::from_rgb(0xC9, 0xCF, 0xD6);
pub const ERROR: Color32 = Color32::from_rgb(0xB3, 0x26, 0x1E);
pub const ERROR_BG: Color32 = Color32::from_rgb(0xFB, 0xEA, 0xE9);
pub const SUCCESS: Color32 = Color32::from_rgb(0x1E, 0x7B, 0x34);
pub const SUCCESS_BG: Color32 = Color32::from_rgb(0xE6, 0xF4, 0xEA);
pub const INFO_BG: Color32 = Color32::from_rgb(0xE7, 0xEF, 0xF8);
pub const WARNING: Color32 = Color32::from_rgb(0x9A, 0x5B, 0x00);
pub const WARNING_BG: Color32 = Color32::from_rgb(0xFD, 0xF3, 0xE1);
pub const READ_ONLY_BG: Color32 = Color32::from_rgb(0xF7, 0xF8, 0xFA);

/// The colour of a fiche status (0 brouillon … 5 déclassée), the same on every screen.
pub fn status_color(status: i32) -> Color32 {
    match status {
        0 => Color32::from_rgb(0x6B, 0x72, 0x80), // brouillon: grey
        1 => Color32::from_rgb(0x1D, 0x5F, 0xC4), // soumise: blue
        2 => Color32::from_rgb(0xB7, 0x79, 0x00), // vérifiée: amber
        3 => Color32::from_rgb(0x1E, 0x8E, 0x3E), // signée: green
        4 => Color32::from_rgb(0x0B, 0x50, 0x2A), // archivée: dark green
        5 => Color32::from_rgb(0xB3, 0x26, 0x1E), // déclassée: red
        _ => TEXT_MUTED,
    }
}

/// The colour of a transmission's state (`juris.transmissions`), in the fiche statuses'
/// colours where they mean the same: archived at the CJN as an archived fiche, refused in red.
pub fn transmission_color(state: &str) -> Color32 {
    match state {
        "waiting" => status_color(0),
        "sent" => status_color(1),
        "archived" => status_color(4),
        "refused" => status_color(5),
        "blocked" => WARNING,
        _ => TEXT_MUTED,
    }
}

/// The colour of a request for an extract's state (`juris.extract_requests`).
pub fn extract_color(state: &str) -> Color32 {
    match state {
        "pending" => status_color(1),
        "answered" => status_color(4),
        "rejected" => status_color(5),
        _ => TEXT_MUTED,
    }
}

/// Spacing, in points.
pub mod spacing {
    /// Between two widgets.
    pub const ITEM: f32 = 8.0;
    /// Inside a form section.
    pub const SECTION_INNER: f32 = 14.0;
    /// Between two sections.
    pub const SECTION_GAP: f32 = 12.0;
    /// Width of a form label column.
    pub const LABEL_WIDTH: f32 = 190.0;
    /// Width of a form field.
    pub const FIELD_WIDTH: f32 = 260.0;
    /// Width of the left navigation.
    pub const NAV_WIDTH: f32 = 180.0;
}

/// Installs the fonts and the style on a context.
pub fn apply(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::empty();
    fonts.font_data.insert(
        "NotoSans-Regular".into(),
        FontData::from_static(REGULAR).into(),
    );
    fonts
        .font_data
        .insert("NotoSans-Bold".into(), FontData::from_static(BOLD).into());
    fonts
        .families
        .insert(FontFamily::Proportional, vec!["NotoSans-Regular".into()]);
    fonts
        .families
        .insert(FontFamily::Monospace, vec!["NotoSans-Regular".into()]);
    fonts
        .families
        .insert(bold_family(), vec!["NotoSans-Bold".into()]);
    ctx.set_fonts(fonts);

    // One light theme whatever the system's preference: a court's forms look the same on
    // every workstation.
    for theme in [egui::Theme::Light, egui::Theme::Dark] {
        ctx.set_style_of(theme, style());
    }
    ctx.set_theme(egui::Theme::Light);
}

fn style() -> egui::Style {
    let mut style = egui::Style {
        visuals: egui::Visuals::light(),
        ..Default::default()
    };
    style.text_styles = [
        (
            TextStyle::Small,
            FontId::new(12.0, FontFamily::Proportional),
        ),
        (TextStyle::Body, FontId::new(14.5, FontFamily::Proportional)),
        (
            TextStyle::Button,
            FontId::new(14.5, FontFamily::Proportional),
        ),
        (TextStyle::Heading, FontId::new(20.0, bold_family())),
        (
            TextStyle::Monospace,
            FontId::new(14.0, FontFamily::Monospace),
        ),
    ]
    .into();
    let s = &mut style.spacing;
    s.item_spacing = egui::vec2(spacing::ITEM, 6.0);
    s.button_padding = egui::vec2(12.0, 5.0);
    s.interact_size = egui::vec2(40.0, 26.0);
    s.text_edit_width = spacing::FIELD_WIDTH;
    s.combo_width = spacing::FIELD_WIDTH;

    let v = &mut style.visuals;
    v.panel_fill = PAGE;
    v.window_fill = PANEL;
    v.extreme_bg_color = Color32::WHITE; // text fields
    v.faint_bg_color = Color32::from_rgb(0xF6, 0xF7, 0xF9); // striped rows
    v.override_text_color = None;
    v.hyperlink_color = ACCENT;
    v.selection.bg_fill = Color32::from_rgb(0xCF, 0xE0, 0xF3);
    v.selection.stroke = Stroke::new(1.0, ACCENT);
    v.window_corner_radius = CornerRadius::same(6);
    v.menu_corner_radius = CornerRadius::same(4);
    v.window_stroke = Stroke::new(1.0, BORDER);
    let radius = CornerRadius::same(4);
    let w = &mut v.widgets;
    w.noninteractive.fg_stroke = Stroke::new(1.0, TEXT);
    w.noninteractive.bg_stroke = Stroke::new(1.0, BORDER);
    w.noninteractive.corner_radius = radius;
    w.inactive.bg_fill = Color32::from_rgb(0xEE, 0xF1, 0xF4);
    w.inactive.weak_bg_fill = Color32::from_rgb(0xEE, 0xF1, 0xF4);
    w.inactive.bg_stroke = Stroke::new(1.0, BORDER);
    w.inactive.fg_stroke = Stroke::new(1.0, TEXT);
    w.inactive.corner_radius = radius;
    w.hovered.bg_fill = Color32::from_rgb(0xE2, 0xE8, 0xEF);
    w.hovered.weak_bg_fill = Color32::from_rgb(0xE2, 0xE8, 0xEF);
    w.hovered.bg_stroke = Stroke::new(1.0, ACCENT_HOVER);
    w.hovered.fg_stroke = Stroke::new(1.0, TEXT);
    w.hovered.corner_radius = radius;
    w.active.bg_fill = Color32::from_rgb(0xD5, 0xDF, 0xEA);
    w.active.weak_bg_fill = Color32::from_rgb(0xD5, 0xDF, 0xEA);
    w.active.bg_stroke = Stroke::new(1.5, ACCENT);
    w.active.fg_stroke = Stroke::new(1.0, TEXT);
    w.active.corner_radius = radius;
    w.open.corner_radius = radius;
    style
}

/// A white card with a thin border, the frame of a form section.
pub fn card() -> egui::Frame {
    egui::Frame::new()
        .fill(PANEL)
        .stroke(Stroke::new(1.0, BORDER))
        .corner_radius(CornerRadius::same(6))
        .inner_margin(egui::Margin::same(spacing::SECTION_INNER as i8))
}

/// Bold text at a size.
pub fn bold(text: impl Into<String>, size: f32) -> egui::RichText {
    egui::RichText::new(text).font(FontId::new(size, bold_family()))
}
