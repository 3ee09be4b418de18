//! What the browser tests stand on: the app on a random port, a Chromium per
//! browsing context, small servers playing another site and the upstream, the
//! built Next.js example, and a proxy that records what the browser received.

mod app;
mod browser;
mod flows;
mod next_app;
mod oidc;
mod recording;
mod sites;

pub use app::{App, ExampleApi, PASSWORD};
pub use browser::{Browser, Tab, TabOptions, free_port};
pub use flows::{ACCESS, REFRESH, fail_sign_in_over_http, register_over_http, sign_in, sign_up};
pub use next_app::NextServer;
pub use oidc::app_with_provider;
pub use recording::RecordingProxy;
pub use sites::{NotesApi, Site};
