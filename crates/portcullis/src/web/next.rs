//! Where to send a browser after it signs in: `?next=` checked once, the
//! same way for the pages and for a sign-in at another provider.

/// `next` when it is a path on this site, else `None`. A redirect target from
/// a URL would otherwise let any site send a freshly signed-in visitor to a
/// page of its choosing (`//evil.test`, `/\evil.test` are other hosts to a
/// browser).
pub fn safe_next(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// `next=…` for a page's query string, encoded.
pub fn next_query(next: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish()
}
