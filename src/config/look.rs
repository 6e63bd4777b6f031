//! The operator's look: a logo and a favicon (files, served from gatehouse
//! itself so the pages make no outside request), an accent colour, and a
//! footer (a line of text, privacy and terms links) on every page and mail.
//! Checked at start: a missing or oversized file, an image of no known
//! type, a colour too light to read on white, a link that is not https
//! each stop start-up naming the setting.

use super::{err, ConfigError};
use std::path::Path;
use std::sync::Arc;

/// Larger logo or favicon files are refused: they are sent with every
/// page view that is not cached.
pub const MAX_IMAGE: usize = 256 * 1024;
/// At most this many characters of footer text.
pub const MAX_FOOTER: usize = 200;
/// WCAG 2.1 §1.4.3: text (links in the accent colour) on the white card
/// needs 4.5:1.
pub const MIN_CONTRAST: f64 = 4.5;

/// An image read from a file at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub content_type: &'static str,
    pub bytes: Arc<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Look {
    pub logo: Option<Image>,
    pub favicon: Option<Image>,
    /// `#rrggbb`, lower case.
    pub accent: Option<String>,
    /// The text on an accent background: black or white, whichever reads
    /// better.
    pub accent_text: Option<&'static str>,
    pub footer_text: Option<String>,
    pub privacy_url: Option<String>,
    pub terms_url: Option<String>,
}

impl Look {
    /// Whether the pages need the operator's stylesheet.
    pub fn has_accent(&self) -> bool {
        self.accent.is_some()
    }

    /// Whether there is a footer to show.
    pub fn has_footer(&self) -> bool {
        self.footer_text.is_some() || self.privacy_url.is_some() || self.terms_url.is_some()
    }

    /// The stylesheet that lays the accent over the built-in one (light
    /// scheme; the dark scheme keeps its own, which is made for a dark
    /// card).
    pub fn stylesheet(&self) -> String {
        match (&self.accent, self.accent_text) {
            (Some(a), Some(t)) => format!(
                "/* the operator's accent (GATEHOUSE_ACCENT_COLOR) */\n@media (prefers-color-scheme: light), (prefers-color-scheme: no-preference) {{\n  :root {{ --accent: {a}; --accent-text: {t}; }}\n}}\n"
            ),
            _ => String::new(),
        }
    }
}

/// Reads the look's settings (`raw` as `Config::load` reads any).
pub fn load(raw: &dyn Fn(&str) -> (String, String)) -> Result<Look, ConfigError> {
    let image = |key: &str| -> Result<Option<Image>, ConfigError> {
        let (name, v) = raw(key);
        if v.trim().is_empty() {
            return Ok(None);
        }
        read_image(Path::new(v.trim()))
            .map(Some)
            .map_err(|p| err(&name, p))
    };
    let logo = image("logo")?;
    let favicon = image("favicon")?;

    let (name, v) = raw("accent_color");
    let (accent, accent_text) = if v.trim().is_empty() {
        (None, None)
    } else {
        let (hex, text) = check_accent(v.trim()).map_err(|p| err(&name, p))?;
        (Some(hex), Some(text))
    };

    let (name, v) = raw("footer_text");
    let footer_text = match v.trim() {
        "" => None,
        t if t.chars().count() > MAX_FOOTER || t.chars().any(char::is_control) => {
            return Err(err(
                &name,
                format!("must be at most {MAX_FOOTER} printable characters"),
            ))
        }
        t => match crate::text::shown_name_problem(t) {
            Some(why) => return Err(err(&name, why)),
            None => Some(t.to_string()),
        },
    };
    let link = |key: &str| -> Result<Option<String>, ConfigError> {
        let (name, v) = raw(key);
        match v.trim() {
            "" => Ok(None),
            u => {
                let parsed = url::Url::parse(u)
                    .map_err(|e| err(&name, format!("'{u}' is not a URL: {e}")))?;
                if parsed.scheme() != "https" || parsed.host_str().is_none() {
                    return Err(err(&name, format!("'{u}' must be an https address")));
                }
                Ok(Some(u.to_string()))
            }
        }
    };
    Ok(Look {
        logo,
        favicon,
        accent,
        accent_text,
        footer_text,
        privacy_url: link("privacy_url")?,
        terms_url: link("terms_url")?,
    })
}

/// An image file: at most `MAX_IMAGE` bytes, PNG, JPEG, WebP, ICO or SVG
/// (told by its first bytes, not its name).
pub fn read_image(path: &Path) -> Result<Image, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_IMAGE as u64 {
        return Err(format!(
            "{} is {} bytes; at most {MAX_IMAGE} are served with the pages",
            path.display(),
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let content_type = image_type(&bytes).ok_or_else(|| {
        format!(
            "{} is not a PNG, JPEG, WebP, ICO or SVG image",
            path.display()
        )
    })?;
    Ok(Image {
        content_type,
        bytes: Arc::new(bytes),
    })
}

/// The content type of an image, by its first bytes.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if bytes.starts_with(&[0, 0, 1, 0]) {
        return Some("image/x-icon");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if (head.starts_with("<svg") || head.starts_with("<?xml")) && head.contains("<svg") {
        return Some("image/svg+xml");
    }
    None
}

/// `#rgb` or `#rrggbb`, readable on white: the colour in `#rrggbb` form
/// and the text colour for an accent background.
pub fn check_accent(v: &str) -> Result<(String, &'static str), String> {
    let hex = v.strip_prefix('#').unwrap_or("");
    let full: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_string(),
        _ => String::new(),
    };
    let channel = |i: usize| u8::from_str_radix(full.get(i..i + 2).unwrap_or("zz"), 16);
    let (Ok(r), Ok(g), Ok(b)) = (channel(0), channel(2), channel(4)) else {
        return Err(format!("'{v}' is not a colour such as #1d4ed8"));
    };
    let l = luminance(r, g, b);
    let on_white = contrast(1.0, l);
    if on_white < MIN_CONTRAST {
        return Err(format!(
            "'{v}' on white reads at {on_white:.1}:1, below the {MIN_CONTRAST}:1 links need (WCAG 2.1 1.4.3); choose a darker colour"
        ));
    }
    let text = if contrast(1.0, l) >= contrast(l, 0.0) {
        "#ffffff"
    } else {
        "#000000"
    };
    Ok((format!("#{}", full.to_ascii_lowercase()), text))
}

/// WCAG 2.1 relative luminance of an sRGB colour.
fn luminance(r: u8, g: u8, b: u8) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG 2.1 contrast ratio of two luminances.
fn contrast(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wcag_1_4_3_accent_must_read_on_white() {
        let (hex, text) = check_accent("#1D4ED8").unwrap();
        assert_eq!((hex.as_str(), text), ("#1d4ed8", "#ffffff"));
        assert_eq!(check_accent("#036").unwrap().0, "#003366");
        for light in ["#ffff00", "#f59e0b", "#cccccc", "#ffffff"] {
            assert!(
                check_accent(light).unwrap_err().contains("below"),
                "{light}"
            );
        }
        for bad in ["1d4ed8", "#12345", "#ggg", "blue", "", "#1d4ed8ff"] {
            assert!(check_accent(bad).is_err(), "{bad}");
        }
        // Black on white is 21:1.
        assert!((contrast(1.0, luminance(0, 0, 0)) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn images_are_told_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(&[0, 0, 1, 0, 1]), Some("image/x-icon"));
        assert_eq!(
            image_type(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some("image/svg+xml")
        );
        assert_eq!(image_type(b"<html><script>"), None);
        assert_eq!(image_type(b"GIF89a"), None);
    }
}
