//! Statistiques: the court's activity over a period, in charts (`egui_plot`) and in figures —
//! fiches per month of creation by their status now, signed convictions by offence category,
//! and the median delays from the conviction to the signature and from the signature to the
//! CJN's receipt. Read from `juris.stat_fiches_by_month`, `juris.stat_offences` and
//! `juris.stat_delays` (counts and delays only: no name, no NIU).

use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, GridInput, GridMark, Legend, Line, Plot, PlotPoints};
use time::Date;

use crate::admin::Statistics;
use crate::backend::{Failure, Reply, Request};
use crate::i18n::{Lang, Tr};
use crate::screens::Env;
use crate::theme::{self, spacing};
use crate::widgets::{self, BannerKind};

/// The periods offered, in months.
pub const PERIODS: [i32; 3] = [12, 24, 60];

/// The state of the Statistiques screen.
#[derive(Debug)]
pub struct StatistiquesScreen {
    /// The period: the last `months` months, this one included.
    pub months: i32,
    pub stats: Option<Statistics>,
    pub error: Option<String>,
    tag: Option<u64>,
}

impl Default for StatistiquesScreen {
    fn default() -> Self {
        StatistiquesScreen {
            months: 12,
            stats: None,
            error: None,
            tag: None,
        }
    }
}

impl StatistiquesScreen {
    /// The screen is opened: read the figures of the period.
    pub fn opened(&mut self, env: &mut Env<'_>) {
        self.tag = Some(env.backend.send(Request::Statistics {
            months: self.months,
        }));
    }

    /// True while the figures are read.
    pub fn loading(&self) -> bool {
        self.tag.is_some()
    }

    /// Takes an answer of the database; others are dropped.
    pub fn on_reply(&mut self, tag: u64, reply: Reply, tr: &Tr) {
        if self.tag != Some(tag) {
            return;
        }
        self.tag = None;
        if let Reply::Statistics(result) = reply {
            match result {
                Ok(s) => {
                    self.stats = Some(s);
                    self.error = None;
                }
                Err(Failure::Refused { message, .. }) => self.error = Some(message),
                Err(Failure::Lost) => self.error = Some(tr.t("saisie.lost").to_owned()),
                Err(Failure::Other(d)) => {
                    self.error = Some(tr.f("saisie.other_error", &[("detail", &d)]))
                }
            }
        }
    }

    /// Draws the screen.
    pub fn show(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(egui::Margin::same(16)))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.body(ui, env));
            });
    }

    fn body(&mut self, ui: &mut Ui, env: &mut Env<'_>) {
        let tr = env.tr;
        let width = ui.available_width().min(1100.0);
        let mut reload = false;
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            ui.horizontal(|ui| {
                widgets::section_title(ui, tr.t("stats.title"));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if widgets::action_button(ui, !self.loading(), tr.t("stats.refresh")).clicked()
                    {
                        reload = true;
                    }
                    if self.loading() {
                        ui.spinner();
                    }
                    let options: Vec<(String, String)> = PERIODS
                        .iter()
                        .map(|m| {
                            (
                                m.to_string(),
                                tr.t(&format!("stats.periods.{m}")).to_owned(),
                            )
                        })
                        .collect();
                    let mut chosen = Some(self.months.to_string());
                    let l = ui.label(tr.t("stats.period"));
                    let r = widgets::combo_field(
                        ui,
                        "stats_period",
                        l,
                        &mut chosen,
                        &options,
                        tr.t("field.choose"),
                        widgets::FieldOpts {
                            width: 190.0,
                            editable: !self.loading(),
                            error: None,
                        },
                    );
                    if r.changed()
                        && let Some(m) = chosen.and_then(|c| c.parse().ok())
                    {
                        self.months = m;
                        reload = true;
                    }
                });
            });
            if let Some(s) = &self.stats {
                let signed: i64 = s.offences.iter().map(|o| o.fiches).sum();
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing.x = 28.0;
                    ui.label(theme::bold(
                        tr.f(
                            "stats.created_total",
                            &[("count", &tr.number(s.fiches_created()))],
                        ),
                        15.0,
                    ));
                    ui.label(theme::bold(
                        tr.f("stats.signed_total", &[("count", &tr.number(signed))]),
                        15.0,
                    ));
                });
                ui.label(
                    RichText::new(tr.t("stats.note"))
                        .color(theme::TEXT_MUTED)
                        .size(12.5),
                );
            }
        });
        if reload {
            self.opened(env);
        }
        ui.add_space(spacing::SECTION_GAP);
        if let Some(e) = &self.error {
            widgets::banner(ui, BannerKind::Error, e);
            ui.add_space(spacing::SECTION_GAP);
        }
        let Some(stats) = self.stats.clone() else {
            if self.loading() {
                ui.label(tr.t("stats.loading"));
            }
            return;
        };
        let months = month_list(&stats, self.months);
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            widgets::section_title(ui, tr.t("stats.by_month"));
            by_month_chart(ui, tr, &stats, &months);
        });
        ui.add_space(spacing::SECTION_GAP);
        let half = (width - spacing::SECTION_GAP) / 2.0;
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = spacing::SECTION_GAP;
            // Each card top-down (a frame inside a row would lay its content out in a row).
            theme::card().show(ui, |ui| {
                ui.set_width(half - 2.0 * spacing::SECTION_INNER);
                ui.vertical(|ui| {
                    widgets::section_title(ui, tr.t("stats.offences"));
                    offences_chart(ui, tr, &stats);
                });
            });
            theme::card().show(ui, |ui| {
                ui.set_width(half - 2.0 * spacing::SECTION_INNER);
                ui.vertical(|ui| {
                    widgets::section_title(ui, tr.t("stats.delays"));
                    delays_chart(ui, tr, &stats, &months);
                });
            });
        });
        ui.add_space(spacing::SECTION_GAP);
        theme::card().show(ui, |ui| {
            ui.set_width(width - 2.0 * spacing::SECTION_INNER);
            widgets::section_title(ui, tr.t("stats.figures"));
            figures(ui, tr, &stats, &months);
        });
    }
}

/// The months of the period, oldest first.
fn month_list(stats: &Statistics, count: i32) -> Vec<Date> {
    let Some(mut m) = stats.from_month else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(m);
        let (y, mo) = match m.month() {
            time::Month::December => (m.year() + 1, time::Month::January),
            other => (m.year(), other.next()),
        };
        match Date::from_calendar_date(y, mo, 1) {
            Ok(next) => m = next,
            Err(_) => break,
        }
    }
    out
}

fn month_text(m: Date) -> String {
    format!("{:02}/{}", u8::from(m.month()), m.year())
}

/// Grid marks at whole indices (one label per month or category), thinned when crowded.
fn index_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let span = (hi - lo).max(1.0);
    let step = (span / 12.0).ceil().max(1.0);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi {
        out.push(GridMark {
            value: v,
            step_size: step,
        });
        v += step;
    }
    out
}

fn plot<'a>(id: &str, height: f32) -> Plot<'a> {
    Plot::new(id.to_owned())
        .height(height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_background(false)
        .include_y(0.0)
}

fn by_month_chart(ui: &mut Ui, tr: &Tr, stats: &Statistics, months: &[Date]) {
    let mut charts: Vec<BarChart> = Vec::new();
    for status in 0..=5 {
        let bars: Vec<Bar> = months
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let n: i64 = stats
                    .by_month
                    .iter()
                    .filter(|c| c.month == *m && c.status == status)
                    .map(|c| c.fiches)
                    .sum();
                (n > 0).then(|| Bar::new(i as f64, n as f64).width(0.7))
            })
            .collect();
        let name = tr.t(&format!("status.{status}")).to_owned();
        let refs: Vec<&BarChart> = charts.iter().collect();
        let chart = BarChart::new(name, bars)
            .color(theme::status_color(status))
            .stack_on(&refs);
        charts.push(chart);
    }
    let labels: Vec<String> = months.iter().map(|m| month_text(*m)).collect();
    plot("stats_by_month", 230.0)
        .legend(Legend::default())
        .include_x(-0.6)
        .include_x(months.len() as f64 - 0.4)
        .x_grid_spacer(index_marks)
        .x_axis_formatter(move |mark, _| index_label(&labels, mark.value))
        .show(ui, |p| {
            for c in charts {
                p.bar_chart(c);
            }
        });
}

fn index_label(labels: &[String], value: f64) -> String {
    if value.fract() != 0.0 || value < 0.0 {
        return String::new();
    }
    labels.get(value as usize).cloned().unwrap_or_default()
}

/// Signed convictions by category (classes summed), most frequent first.
fn by_category(tr: &Tr, stats: &Statistics) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for o in &stats.offences {
        let label = o
            .category_label
            .clone()
            .or_else(|| o.category.clone())
            .unwrap_or_else(|| tr.t("stats.uncategorised").to_owned());
        match out.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += o.fiches,
            None => out.push((label, o.fiches)),
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn offences_chart(ui: &mut Ui, tr: &Tr, stats: &Statistics) {
    let categories = by_category(tr, stats);
    if categories.is_empty() {
        ui.label(RichText::new(tr.t("stats.none")).color(theme::TEXT_MUTED));
        return;
    }
    // Most frequent at the top.
    let n = categories.len();
    let bars: Vec<Bar> = categories
        .iter()
        .enumerate()
        .map(|(i, (label, count))| {
            Bar::new((n - 1 - i) as f64, *count as f64)
                .width(0.6)
                .name(label)
        })
        .collect();
    let labels: Vec<String> = categories.iter().rev().map(|(l, _)| short(l, 26)).collect();
    let name = tr.t("stats.col.fiches").to_owned();
    plot("stats_offences", 230.0)
        .include_x(0.0)
        .y_grid_spacer(index_marks)
        .y_axis_formatter(move |mark, _| index_label(&labels, mark.value))
        .y_axis_min_width(150.0)
        .show(ui, |p| {
            p.bar_chart(BarChart::new(name, bars).horizontal().color(theme::ACCENT));
        });
}

fn delays_chart(ui: &mut Ui, tr: &Tr, stats: &Statistics, months: &[Date]) {
    if stats.delays.is_empty() {
        ui.label(RichText::new(tr.t("stats.none")).color(theme::TEXT_MUTED));
        return;
    }
    let points = |f: &dyn Fn(&crate::admin::MonthDelays) -> Option<f64>| -> Vec<[f64; 2]> {
        months
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                stats
                    .delays
                    .iter()
                    .find(|d| d.month == *m)
                    .and_then(f)
                    .map(|v| [i as f64, v])
            })
            .collect()
    };
    let to_signature = points(&|d| d.to_signature_median_days);
    let to_cjn = points(&|d| d.to_cjn_median_hours);
    for (id, name, pts, color) in [
        (
            "stats_delay_signature",
            tr.t("stats.to_signature"),
            to_signature,
            theme::ACCENT,
        ),
        (
            "stats_delay_cjn",
            tr.t("stats.to_cjn"),
            to_cjn,
            Color32::from_rgb(0x1E, 0x7B, 0x34),
        ),
    ] {
        ui.label(RichText::new(name).color(theme::TEXT_MUTED).size(13.0));
        let name = name.to_owned();
        let labels: Vec<String> = months.iter().map(|m| month_text(*m)).collect();
        plot(id, 92.0)
            .include_x(-0.5)
            .include_x(months.len() as f64 - 0.5)
            .x_grid_spacer(index_marks)
            .x_axis_formatter(move |mark, _| index_label(&labels, mark.value))
            .show(ui, |p| {
                p.line(
                    Line::new(name, PlotPoints::from(pts))
                        .color(color)
                        .width(2.0),
                );
            });
    }
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn number(v: Option<f64>, key: &str, tr: &Tr) -> String {
    match v {
        Some(v) => {
            let text = format!("{v:.1}");
            let text = match tr.lang() {
                Lang::Fr => text.replace('.', ","),
                Lang::En => text,
            };
            tr.f(key, &[("value", &text)])
        }
        None => "—".to_owned(),
    }
}

/// The figures under the charts, as tables (what the charts draw, readable and testable).
fn figures(ui: &mut Ui, tr: &Tr, stats: &Statistics, months: &[Date]) {
    let col = |ui: &mut Ui, key: &str| {
        ui.label(theme::bold(tr.t(key), 13.0));
    };
    egui::Grid::new("stats_by_month_figures")
        .num_columns(8)
        .striped(true)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            col(ui, "stats.col.month");
            for status in 0..=5 {
                col(ui, &format!("status.{status}"));
            }
            col(ui, "stats.col.total");
            ui.end_row();
            for m in months.iter().rev() {
                let counts: Vec<i64> = (0..=5)
                    .map(|s| {
                        stats
                            .by_month
                            .iter()
                            .filter(|c| c.month == *m && c.status == s)
                            .map(|c| c.fiches)
                            .sum()
                    })
                    .collect();
                let total: i64 = counts.iter().sum();
                if total == 0 {
                    continue;
                }
                ui.label(month_text(*m));
                for n in counts {
                    ui.label(tr.number(n));
                }
                ui.label(theme::bold(tr.number(total), 14.0));
                ui.end_row();
            }
        });
    ui.add_space(12.0);
    egui::Grid::new("stats_offences_figures")
        .num_columns(3)
        .striped(true)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            col(ui, "stats.col.category");
            col(ui, "stats.col.class");
            col(ui, "stats.col.fiches");
            ui.end_row();
            for o in &stats.offences {
                ui.label(
                    o.category_label
                        .clone()
                        .or_else(|| o.category.clone())
                        .unwrap_or_else(|| tr.t("stats.uncategorised").to_owned()),
                );
                ui.label(
                    o.class
                        .as_deref()
                        .map(|c| tr.t(&format!("enum.offence_class.{c}")).to_owned())
                        .unwrap_or_else(|| "—".to_owned()),
                );
                ui.label(tr.number(o.fiches));
                ui.end_row();
            }
        });
    ui.add_space(12.0);
    egui::Grid::new("stats_delays_figures")
        .num_columns(7)
        .striped(true)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            for key in [
                "stats.col.month",
                "stats.col.signed",
                "stats.col.signature_median",
                "stats.col.signature_p90",
                "stats.col.cjn_median",
                "stats.col.cjn_p90",
                "stats.col.awaiting",
            ] {
                col(ui, key);
            }
            ui.end_row();
            for d in stats.delays.iter().rev() {
                ui.label(month_text(d.month));
                ui.label(tr.number(d.fiches));
                ui.label(number(d.to_signature_median_days, "stats.days", tr));
                ui.label(number(d.to_signature_p90_days, "stats.days", tr));
                ui.label(number(d.to_cjn_median_hours, "stats.hours", tr));
                ui.label(number(d.to_cjn_p90_hours, "stats.hours", tr));
                ui.label(tr.number(d.awaiting_cjn));
                ui.end_row();
            }
        });
}
