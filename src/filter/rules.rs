//! Beyond words: links, phone numbers and WeChat-id patterns in the text.

/// Placeholder replaced below.
pub struct Rules;
