//! Text that came from outside (a cluster, a file) shown to people: characters that would change how the rest of
//! the output looks instead of showing themselves are written out as escapes.

use std::borrow::Cow;

/// Characters that change how text is shown rather than showing: control characters (ESC starts a terminal
/// sequence, CR rewrites a line, a newline starts a fake one), Unicode's line and paragraph separators (U+2028/9,
/// fake lines too), and the Unicode marks that reorder text (U+200E/F, U+202A-E, U+2066-9), with which `tg:alice`
/// could be made to look like another name.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every [`is_hidden`] character written as a Rust-style escape (`\u{1b}`); borrowed when it has none.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_hidden(c) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_hides() {
        assert_eq!(shown("tg:alice"), "tg:alice");
        assert_eq!(
            shown("a\u{1b}[2K\rPlan: 0 to create\n\u{202e}x"),
            "a\\u{1b}[2K\\u{d}Plan: 0 to create\\u{a}\\u{202e}x"
        );
    }
}
