//! The `Cookie` header reader and the forwarding filter: any header value must
//! be handled without panicking, and our cookies must never survive stripping.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis::web::cookies::CookiePolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, value);
    for policy in [CookiePolicy::new(true), CookiePolicy::new(false)] {
        let _ = policy.read(&headers);
        // What the gateway forwards: the foreign pairs, rejoined.
        let kept: Vec<&str> = policy.foreign_pairs(&headers).collect();
        let kept = kept.join("; ");
        for pair in kept.split(';') {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
            assert!(name != policy.access_name() && name != policy.refresh_name());
        }
    }
});
