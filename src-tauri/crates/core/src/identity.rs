//! Track and artist identity across sources.
//!
//! The same song arrives from Last.fm, Spotify, ListenBrainz and a Rockbox log
//! with different spellings: "Beyoncé" vs "Beyonce\u{301}", "Song (feat. X)"
//! vs "Song", curly vs straight apostrophes. A MusicBrainz id settles identity
//! when one is present; otherwise the normalised (artist, title) key does.
//! Both sides of the comparison go through [`name_key`], so the rules live in
//! one place.

use unicode_normalization::UnicodeNormalization;

/// Separates the artist and title parts of a track key; it cannot occur in
/// normalised text because control characters are dropped.
const KEY_SEPARATOR: char = '\u{1f}';

/// Normalises a display name for matching: Unicode NFKC, lower case,
/// typographic punctuation folded to ASCII, whitespace collapsed.
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkc().flat_map(char::to_lowercase) {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '`' | '\u{b4}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c => c,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !c.is_control() {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Markers that introduce a featured artist, in normalised (lower-case) form.
const FEATURING: [&str; 5] = ["featuring ", "feat. ", "feat ", "ft. ", "ft "];

/// Returns `key` without a featured-artist clause: "song (feat. x)",
/// "song [ft. x]", "song feat. x" and "artist featuring x" all lose the clause.
fn strip_featuring(key: &str) -> &str {
    let bytes = key.as_bytes();
    let mut cut = key.len();
    for marker in FEATURING {
        let mut from = 0;
        while let Some(found) = key[from..].find(marker) {
            let at = from + found;
            // A marker counts at a word start: after an opening bracket or a space.
            let starts_word = at > 0 && matches!(bytes[at - 1], b' ' | b'(' | b'[');
            if starts_word {
                let start = if matches!(bytes[at - 1], b'(' | b'[') {
                    at - 1
                } else {
                    at
                };
                cut = cut.min(start);
                break;
            }
            from = at + marker.len();
        }
    }
    key[..cut].trim_end_matches([' ', '-', ',', '&']).trim_end()
}

/// The normalised key of an artist name.
pub fn artist_key(artist: &str) -> String {
    let key = name_key(artist);
    let stripped = strip_featuring(&key);
    if stripped.is_empty() {
        key
    } else {
        stripped.to_owned()
    }
}

/// The normalised key of a title (featured artists removed).
pub fn title_key(title: &str) -> String {
    let key = name_key(title);
    let stripped = strip_featuring(&key);
    if stripped.is_empty() {
        key
    } else {
        stripped.to_owned()
    }
}

/// The key under which a track is matched when no MBID settles it.
pub fn track_key(artist: &str, title: &str) -> String {
    let mut key = artist_key(artist);
    key.push(KEY_SEPARATOR);
    key.push_str(&title_key(title));
    key
}

/// Returns a MusicBrainz id in canonical form (lower-case hyphenated UUID),
/// or `None` for empty or malformed values, which sources emit often
/// (Rockbox logs carry arbitrary text in that column).
pub fn canonical_mbid(mbid: &str) -> Option<String> {
    let mbid = mbid.trim();
    let bytes = mbid.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    for (i, b) in bytes.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        };
        if !ok {
            return None;
        }
    }
    Some(mbid.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_whitespace_and_unicode_forms_fold() {
        assert_eq!(name_key("  The   Beatles "), "the beatles");
        assert_eq!(name_key("Beyonce\u{301}"), name_key("Beyoncé"));
        assert_eq!(name_key("ﬁve"), "five");
        assert_eq!(name_key("Kickin’ Back"), "kickin' back");
    }

    #[test]
    fn featured_artists_are_not_part_of_identity() {
        let plain = track_key("All Time Low", "Monsters");
        assert_eq!(
            track_key("All Time Low", "Monsters (feat. Demi Lovato and blackbear)"),
            plain
        );
        assert_eq!(track_key("All Time Low ft. Demi Lovato", "Monsters"), plain);
        assert_eq!(track_key("All Time Low featuring X", "Monsters [Ft. Y]"), plain);
        assert_eq!(track_key("All Time Low", "Monsters feat. Z"), plain);
    }

    #[test]
    fn words_containing_feat_are_kept() {
        assert_eq!(title_key("Defeat the Feather"), "defeat the feather");
        assert_eq!(artist_key("Soft Cell"), "soft cell");
        assert_eq!(title_key("Feat."), "feat.");
    }

    #[test]
    fn mbids_are_validated() {
        assert_eq!(
            canonical_mbid("D5E4FB56-E457-4684-AA31-63CE70EE5A8C").as_deref(),
            Some("d5e4fb56-e457-4684-aa31-63ce70ee5a8c")
        );
        assert_eq!(canonical_mbid("never-gonna-give-you-up"), None);
        assert_eq!(canonical_mbid(""), None);
    }
}
