//! Renders every built-in document from every sample into a folder, as PDF
//! and as a PNG of each page, to look at them:
//! `cargo run -p forms --example samples -- /tmp/forms-out [templates-dir]`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "forms-out".into()));
    std::fs::create_dir_all(&out)?;
    let forms = match args.next() {
        Some(dir) => forms::Forms::with_user_dir(dir)?,
        None => forms::Forms::builtin().with_letterhead(toml_letterhead()?),
    };
    let jobs = [
        ("fiche", "fiche.json"),
        ("fiche", "fiche-brouillon.json"),
        ("liste-fiches", "liste-fiches.json"),
        ("bulletin-1", "bulletin-1.json"),
        ("bulletin-2", "bulletin-2.json"),
        ("bulletin-3", "bulletin-3.json"),
        ("bulletin-3", "bulletin-3-neant.json"),
        ("recu-cjn", "recu-cjn.json"),
    ];
    for (template, sample) in jobs {
        let data = forms::sample(sample).ok_or("missing sample")?;
        let start = std::time::Instant::now();
        let compiled = forms.compile(template, &data)?;
        let pdf = compiled.pdf()?;
        let elapsed = start.elapsed();
        let stem = sample.trim_end_matches(".json");
        std::fs::write(out.join(format!("{stem}.pdf")), pdf)?;
        for page in 0..compiled.page_count() {
            let image = compiled.image(page, 1.5)?;
            std::fs::write(out.join(format!("{stem}-{}.png", page + 1)), image.png)?;
        }
        println!(
            "{stem}: {} page(s), {:.1} ms to PDF",
            compiled.page_count(),
            elapsed.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

/// The sample letterhead (`samples/letterhead.toml`).
fn toml_letterhead() -> Result<forms::Letterhead, Box<dyn std::error::Error>> {
    Ok(forms::Letterhead::from_toml(forms::SAMPLE_LETTERHEAD)?)
}
