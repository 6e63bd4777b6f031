//! The rules for text that people read as a name: usernames (what one
//! person signs in with, and what apps and admins see of them) and shown
//! names (an app's `client_name`, a person's display name). Pure functions
//! over strings, no database; a leaf that `admin`, `store` and `app` use.
//!
//! Usernames follow RFC 8265 (PRECIS): the stored form is the
//! UsernameCasePreserved profile's output (§3.4: width mapping, NFC, the
//! bidi rule; the IdentifierClass's letters, digits and ASCII punctuation
//! only), and the comparison key is the UsernameCaseMapped profile's
//! (§3.3: also lower case), so `Alice`, `ALICE` and `ａｌｉｃｅ` are one name.
//! On top of PRECIS, for look-alikes (UTS #39): a username is in one
//! script (§5.1 single-script, so `аlice` with a Cyrillic `а` is refused),
//! and its skeleton (§4, after dropping generic diacritics) is unique too,
//! so `аре` in Cyrillic cannot join `ape`, nor `alicé` join `alice`.
//!
//! Shown names keep whatever the person typed except what a browser would
//! not show as typed: control characters, bidi controls (U+202A–202E,
//! U+2066–2069, U+200E/F, U+061C: they reorder the text around them) and
//! the other default-ignorable code points (invisible).

use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};
use icu_properties::CodePointSetData;
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{UsernameCaseMapped, UsernameCasePreserved};
use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

/// At most this many characters in a username.
pub const MAX_USERNAME: usize = 128;

/// A username that passed every rule, in its three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// As it is stored and shown: as typed, after RFC 8265 §3.4.
    pub shown: String,
    /// What two usernames are compared by (RFC 8265 §3.3); unique.
    pub key: String,
    /// What two usernames look like (UTS #39 §4 of the key); unique.
    pub skeleton: String,
}

/// Whether `c` is a bidi control (Bidi_Control: U+061C, U+200E, U+200F,
/// U+202A–202E, U+2066–2069).
pub fn is_bidi_control(c: char) -> bool {
    CodePointSetData::new::<BidiControl>().contains(c)
}

/// Whether `c` is drawn as nothing: Default_Ignorable_Code_Point (zero-width
/// spaces and joiners, the word joiner, the byte order mark, the soft
/// hyphen, variation selectors, U+180E, the bidi controls, …).
pub fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Why a shown name (an app's name, a person's display name) is refused,
/// or `None`: a control character, a bidi control or an invisible
/// character anywhere in it.
pub fn shown_name_problem(name: &str) -> Option<String> {
    for c in name.chars() {
        if c.is_control() {
            return Some(format!(
                "control characters ({}) are not allowed in a name",
                code_point(c)
            ));
        }
        if is_bidi_control(c) {
            return Some(format!(
                "direction controls ({}) are not allowed in a name: they reorder what people see",
                code_point(c)
            ));
        }
        if is_invisible(c) {
            return Some(format!(
                "invisible characters ({}) are not allowed in a name",
                code_point(c)
            ));
        }
    }
    None
}

/// Checks a username as a person typed it (surrounding white space
/// trimmed) and returns its forms, or why it is refused, in words for the
/// person.
pub fn username(input: &str) -> Result<Username, String> {
    let typed = input.trim();
    let count = typed.chars().count();
    if count == 0 || count > MAX_USERNAME {
        return Err(format!(
            "a username is 1 to {MAX_USERNAME} characters without spaces"
        ));
    }
    if typed.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "a username is 1 to {MAX_USERNAME} characters without spaces"
        ));
    }
    if let Some(c) = typed
        .chars()
        .find(|&c| is_bidi_control(c) || is_invisible(c))
    {
        return Err(format!(
            "a username cannot hold invisible characters or direction controls ({})",
            code_point(c)
        ));
    }
    let shown = UsernameCasePreserved::enforce(typed)
        .map_err(precis_refusal)?
        .into_owned();
    let key = UsernameCaseMapped::enforce(shown.as_str())
        .map_err(precis_refusal)?
        .into_owned();
    if !key.as_str().is_single_script() {
        return Err(
            "a username is written in one script: do not mix, say, Latin and Cyrillic letters"
                .into(),
        );
    }
    let skeleton = username_skeleton(&shown);
    Ok(Username {
        shown,
        key,
        skeleton,
    })
}

fn precis_refusal(e: precis_core::Error) -> String {
    match e {
        precis_core::Error::BadCodepoint(info) => {
            let c = char::from_u32(info.cp).map(|c| format!("'{c}' ")).unwrap_or_default();
            format!(
                "{c}({}) is not allowed in a username: use letters, digits and ASCII punctuation",
                code_point(char::from_u32(info.cp).unwrap_or(char::REPLACEMENT_CHARACTER))
            )
        }
        // The bidi rule (RFC 5893 §2, through RFC 8265 §3.3.5).
        precis_core::Error::Invalid => {
            "a username with right-to-left letters must start and end with a letter and not mix directions".into()
        }
        precis_core::Error::Unexpected(_) => "this username cannot be used".into(),
    }
}

/// The comparison key of a valid username (RFC 8265 §3.3), or `None` when
/// `input` is no valid username.
pub fn username_key(input: &str) -> Option<String> {
    username(input).ok().map(|u| u.key)
}

/// A comparison key for any string, never refused: the valid username's
/// key when it is one; otherwise (names from before these rules) the text
/// without invisible characters and direction controls, under NFKC and
/// lower case. For throttle keys and for rows stored before the rules.
pub fn fold_username(input: &str) -> String {
    if let Some(key) = username_key(input) {
        return key;
    }
    let visible: String = input
        .trim()
        .chars()
        .filter(|&c| !is_invisible(c) && !is_bidi_control(c))
        .nfkc()
        .collect();
    visible.to_lowercase().nfc().collect()
}

/// Generic combining diacritics (the Combining Diacritical Marks blocks):
/// an accent does not make a name look like another person's.
fn is_generic_diacritic(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// UTS #39 §4's skeleton (NFD, each character replaced by its confusable
/// prototype, NFD; invisible characters dropped), without generic
/// diacritics.
fn skeleton(s: &str) -> String {
    let bare: String = s.nfd().filter(|&c| !is_generic_diacritic(c)).collect();
    unicode_security::skeleton(&bare)
        .filter(|&c| !is_generic_diacritic(c))
        .collect()
}

/// What a username looks like, whatever its case: the skeleton of the
/// lower-cased skeleton of the name as shown. Two names with one such
/// skeleton look alike: `alice`, `аlice` (Cyrillic `а`), `alicé`, `aIice`
/// (capital `I`), `a1ice`; `b0b` and `bob`; `АСЕ` (Cyrillic) and `ace`.
/// The inner skeleton maps capitals that look like other letters (`I`,
/// `0`) before case is folded; the outer one maps what lower case made.
pub fn username_skeleton(shown: &str) -> String {
    skeleton(&skeleton(shown).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Look-alikes of `alice` that sign-up once accepted beside her: case,
    /// invisible characters, bidi controls, other scripts, fullwidth
    /// forms, a combining accent.
    pub const ALICE_LOOK_ALIKES: [&str; 13] = [
        "Alice",
        "ALICE",
        "ali\u{200B}ce",
        "ali\u{200D}ce",
        "ali\u{2060}ce",
        "\u{FEFF}alice",
        "ali\u{AD}ce",
        "ali\u{180E}ce",
        "\u{202E}ecila",
        "\u{430}lice",
        "alic\u{435}",
        "ａｌｉｃｅ",
        "alice\u{301}",
    ];

    #[test]
    fn rfc8265_3_3_case_and_width_variants_share_the_key() {
        let alice = username("alice").unwrap();
        for v in ["Alice", "ALICE", "ａｌｉｃｅ", "ＡＬＩＣＥ"] {
            assert_eq!(username(v).unwrap().key, alice.key, "{v}");
        }
        // §3.4: the stored form keeps the case, after width mapping.
        assert_eq!(username("Alice").unwrap().shown, "Alice");
        assert_eq!(username("ａｌｉｃｅ").unwrap().shown, "alice");
        // NFC: a composed and a decomposed é are one name.
        assert_eq!(
            username("jose\u{301}").unwrap().key,
            username("jos\u{E9}").unwrap().key
        );
    }

    #[test]
    fn rfc8265_every_look_alike_of_alice_is_refused_or_collides() {
        let alice = username("alice").unwrap();
        for v in ALICE_LOOK_ALIKES {
            match username(v) {
                Err(_) => {}
                Ok(u) => assert!(
                    u.key == alice.key || u.skeleton == alice.skeleton,
                    "{v:?} would be a new name: {u:?}"
                ),
            }
        }
        // UTS #39 look-alikes beyond the list.
        for (a, b) in [
            ("aIice", "alice"),
            ("a1ice", "alice"),
            ("b0b", "bob"),
            ("Ian", "lan"),
        ] {
            assert_eq!(
                username(a).unwrap().skeleton,
                username(b).unwrap().skeleton,
                "{a} {b}"
            );
        }
        // Different names stay different.
        for other in [
            "alicia",
            "bob",
            "alice2",
            "jose",
            "élise",
            "Дмитрий",
            "日本語",
            "ali",
        ] {
            let u = username(other).unwrap();
            assert_ne!(u.key, alice.key, "{other}");
            assert_ne!(u.skeleton, alice.skeleton, "{other}");
        }
    }

    #[test]
    fn uts39_invisible_bidi_and_mixed_script_usernames_are_refused() {
        for bad in [
            "ali\u{200B}ce",
            "\u{202E}ecila",
            "a\u{2066}b",
            "a\u{61C}b",
            "\u{FEFF}x",
            "ali\u{AD}ce",
            "\u{430}lice",
            "a b",
            "",
            "   ",
            "a\u{7}",
        ] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(username(&"x".repeat(MAX_USERNAME)).is_ok());
        assert!(username(&"x".repeat(MAX_USERNAME + 1)).is_err());
        // Letters, digits and ASCII punctuation; other symbols are refused.
        assert!(username("dana.o'neil-2@example").is_ok());
        assert!(username("snow☃").is_err());
        // Whole-script: all Cyrillic is one script (its skeleton guards it).
        let cyr = username("\u{430}\u{440}\u{435}").unwrap();
        assert_eq!(cyr.skeleton, username("ape").unwrap().skeleton);
        let caps = username("\u{410}\u{421}\u{415}").unwrap();
        assert_eq!(caps.skeleton, username("ace").unwrap().skeleton);
        assert_ne!(
            username("ali").unwrap().skeleton,
            username("all").unwrap().skeleton
        );
    }

    #[test]
    fn fold_username_is_the_key_for_valid_names_and_total_for_others() {
        assert_eq!(fold_username("  ALICE "), "alice");
        assert_eq!(fold_username("ali\u{200B}ce"), "alice");
        assert_eq!(fold_username("\u{202E}Alice"), "alice");
        assert_eq!(fold_username("snow☃"), "snow☃");
    }

    #[test]
    fn shown_names_refuse_bidi_controls_invisible_and_control_characters() {
        assert!(shown_name_problem("Photo Printer").is_none());
        assert!(shown_name_problem("Zoë's Café — ½ price 🎉").is_none());
        assert!(shown_name_problem("مرحبا بالعالم").is_none());
        for bad in [
            "\u{202E}gnp.exe Bank",
            "a\u{2066}b",
            "a\u{200E}b",
            "a\u{200F}b",
            "a\u{61C}b",
            "a\u{200B}b",
            "a\u{FEFF}b",
            "a\u{AD}b",
            "a\u{7}b",
        ] {
            let why = shown_name_problem(bad).unwrap_or_else(|| panic!("{bad:?}"));
            assert!(why.contains("U+"), "{why}");
        }
    }
}
