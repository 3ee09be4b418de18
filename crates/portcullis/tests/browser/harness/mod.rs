//! What the browser tests stand on: the app on a random port, a Chromium per
//! browsing context, and small servers playing another site and the upstream.

mod app;
mod browser;
mod flows;
mod sites;

pub use app::{App, PASSWORD};
pub use browser::{Browser, Tab, TabOptions};
pub use flows::{ACCESS, REFRESH, fail_sign_in_over_http, register_over_http, sign_in, sign_up};
pub use sites::{NotesApi, Site};
