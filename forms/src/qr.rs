//! QR codes, drawn by the program as SVG for the templates (`qr.svg`).

use qrcode::{EcLevel, QrCode};

use crate::error::FormsError;

/// The SVG of a QR code that decodes to exactly `payload`, error correction
/// level M, with its quiet zone.
pub fn qr_svg(payload: &str) -> Result<String, FormsError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| FormsError::Qr(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(4, 4)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_an_svg() {
        let svg = qr_svg("XMJ1:B3:2026-000123:ABCD-EFGH").expect("encodes");
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn too_long_is_an_error() {
        let long = "x".repeat(10_000);
        assert!(matches!(qr_svg(&long), Err(FormsError::Qr(_))));
    }
}
