//! Time to render a fiche and a bulletin n°3 to PDF (median of many runs,
//! after a warm-up), and the size the renderer adds to a program.
//!
//! `cargo run --release -p bench --features forms --bin render [-- RUNS]`
//!
//! The size printed is this executable's (it links `forms` and little else);
//! compare it with an empty program built the same way to get what `forms`
//! adds (see forms/README.md, "Figures").

use std::time::{Duration, Instant};

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let runs: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("RUNS must be a number")?,
        None => 50,
    };
    let forms = forms::Forms::builtin();

    for (label, template, sample) in [
        ("fiche", "fiche", "fiche.json"),
        ("bulletin n°3", "bulletin-3", "bulletin-3.json"),
    ] {
        let data = forms::sample(sample).with_context(|| format!("no sample {sample}"))?;
        let start = Instant::now();
        let first = forms.render_pdf(template, &data)?;
        let cold = start.elapsed();
        let mut times = Vec::with_capacity(runs);
        let mut size = first.len();
        for _ in 0..runs {
            let start = Instant::now();
            let pdf = forms.render_pdf(template, &data)?;
            times.push(start.elapsed());
            size = pdf.len();
        }
        times.sort();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        let p90 = times.get(times.len() * 9 / 10).copied().unwrap_or_default();
        let min = times.first().copied().unwrap_or_default();
        println!(
            "{label:<13} to PDF: median {:.1} ms, min {:.1} ms, p90 {:.1} ms over {runs} runs; first {:.1} ms; {} bytes",
            ms(median),
            ms(min),
            ms(p90),
            ms(cold),
            size
        );
    }

    let exe = std::env::current_exe().context("cannot locate this executable")?;
    let bytes = std::fs::metadata(&exe)
        .with_context(|| format!("cannot read {}", exe.display()))?
        .len();
    println!(
        "this executable: {:.1} MB ({}), of which embedded fonts {:.1} MB",
        bytes as f64 / 1e6,
        exe.display(),
        forms::embedded_font_bytes() as f64 / 1e6
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
