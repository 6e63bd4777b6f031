//! Names that must not pass: look-alikes of a username (RFC 8265, UTS #39)
//! and names that a browser would not show as typed (bidi controls, invisible characters).

/// The usernames that looked like `alice` and were accepted before issue
/// 26 (finding 3): case variants, zero-width space and joiner, word
/// joiner, byte order mark, soft hyphen, U+180E, a right-to-left override
/// (`ecila` shown reversed), Cyrillic `а` and `е`, fullwidth, a combining
/// accent.
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
    "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}",
    "alice\u{301}",
];

/// Names that a browser would not show as typed: a right-to-left override
/// (`"\u{202E}gnp.exe Bank"` shows as `Bank exe.png`), the other bidi
/// controls, and invisible characters.
pub const HIDDEN_TRICK_NAMES: [&str; 8] = [
    "\u{202E}gnp.exe Bank",
    "Bank\u{202B}",
    "Bank\u{2067}x\u{2069}",
    "Ba\u{200E}nk",
    "Ba\u{200F}nk",
    "Ba\u{61C}nk",
    "Ba\u{200B}nk",
    "\u{FEFF}Bank",
];
