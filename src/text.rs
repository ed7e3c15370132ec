//! Text for messages: names and labels as an error shows them.

/// Node names longer than this many characters are shortened in messages ([`shown_name`]).
pub const SHOWN_NAME_CHARS: usize = 64;

/// A node name or label as a message shows it: whole up to [`SHOWN_NAME_CHARS`] characters; longer, its
/// first 48 characters, an ellipsis and its length in bytes (a trace's names may be as long
/// as a line), so that an error stays a line a user can read.
pub fn shown_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().nth(SHOWN_NAME_CHARS).is_none() {
        return name.into();
    }
    let head: String = name.chars().take(48).collect();
    format!("{head}… ({} bytes)", name.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names up to 64 characters are shown whole, counted in characters (not bytes); a
    /// longer one by its first 48, an ellipsis and its length in bytes.
    #[test]
    fn long_names_are_shortened_in_messages() {
        assert_eq!(shown_name(""), "");
        assert_eq!(shown_name(&"x".repeat(64)), "x".repeat(64));
        // 64 two-byte characters (128 bytes) are still shown whole.
        assert_eq!(shown_name(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(shown_name(&"x".repeat(65)), format!("{}… (65 bytes)", "x".repeat(48)));
        let long = format!("{}{}", "é".repeat(60), "y".repeat(300_000));
        assert_eq!(shown_name(&long), format!("{}… (300120 bytes)", "é".repeat(48)));
    }
}
