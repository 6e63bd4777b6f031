//! A browser's `User-Agent` as a person reads it in their sessions list:
//! "Firefox on Linux", "Chrome on Android", "Safari on iPhone". A small
//! reading of the common browsers and systems, not a full parser: what it
//! does not know it shows as the start of the string itself.

/// At most this many characters of an unknown `User-Agent` are shown.
pub const SHOWN_MAX: usize = 60;

/// The browser and system a `User-Agent` names, in words; the start of it
/// when it names neither; "Unknown browser" when there was none.
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return "Unknown browser".to_string();
    };
    match (browser(ua), system(ua)) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, _) => truncate(ua),
    }
}

/// The browser, tried in an order that lets the ones built on Chrome or
/// Safari (which name those too) be told apart.
fn browser(ua: &str) -> Option<&'static str> {
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("OPR/", "Opera"),
        ("Opera", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Vivaldi/", "Vivaldi"),
        ("YaBrowser/", "Yandex Browser"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("Wget/", "Wget"),
    ];
    BROWSERS
        .iter()
        .find(|(mark, _)| ua.contains(mark))
        .map(|(_, name)| *name)
}

/// The operating system or device. iPhones and iPads say "like Mac OS X"
/// and Android says "Linux", so those come first.
fn system(ua: &str) -> Option<&'static str> {
    const SYSTEMS: &[(&str, &str)] = &[
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("iPod", "iPod"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
        ("FreeBSD", "FreeBSD"),
        ("OpenBSD", "OpenBSD"),
    ];
    SYSTEMS
        .iter()
        .find(|(mark, _)| ua.contains(mark))
        .map(|(_, name)| *name)
}

/// The first `SHOWN_MAX` characters, with "…" when there were more.
fn truncate(ua: &str) -> String {
    if ua.chars().count() <= SHOWN_MAX {
        return ua.to_string();
    }
    let mut shown: String = ua.chars().take(SHOWN_MAX - 1).collect();
    shown.push('…');
    shown
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_common_browsers_read_as_browser_on_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome on iPad",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) \
                 SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                "Samsung Internet on Android",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36",
                "Chrome on ChromeOS",
            ),
            ("curl/8.5.0", "curl"),
        ];
        for (ua, shown) in cases {
            assert_eq!(describe(Some(ua)), shown, "{ua}");
        }
    }

    #[test]
    fn an_unknown_agent_shows_its_start_and_none_says_so() {
        assert_eq!(describe(Some("my-script/1.0")), "my-script/1.0");
        let long = format!("SomeCrawler/2.0 {}", "x".repeat(100));
        let shown = describe(Some(&long));
        assert_eq!(shown.chars().count(), super::SHOWN_MAX);
        assert!(shown.starts_with("SomeCrawler/2.0 ") && shown.ends_with('…'));
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("  ")), "Unknown browser");
    }
}
