//! The messages' templates: `<kind>.txt`, whose first line is
//! `Subject: …`, and `<kind>.html`, which may extend `layout.html`. The
//! built-in ones are compiled in; a file of the same name in the
//! `mail_templates` directory replaces one. HTML is escaped automatically
//! (minijinja does so for `.html` names), text is not.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, context};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Facts, Kind, Letter, MailError};

/// The built-in templates: name, source.
static BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    (
        "password_reset.txt",
        include_str!("templates/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("templates/password_reset.html"),
    ),
    (
        "verify_email.txt",
        include_str!("templates/verify_email.txt"),
    ),
    (
        "verify_email.html",
        include_str!("templates/verify_email.html"),
    ),
    (
        "confirm_new_email.txt",
        include_str!("templates/confirm_new_email.txt"),
    ),
    (
        "confirm_new_email.html",
        include_str!("templates/confirm_new_email.html"),
    ),
    (
        "password_changed.txt",
        include_str!("templates/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("templates/password_changed.html"),
    ),
    (
        "password_was_reset.txt",
        include_str!("templates/password_was_reset.txt"),
    ),
    (
        "password_was_reset.html",
        include_str!("templates/password_was_reset.html"),
    ),
    (
        "email_changed.txt",
        include_str!("templates/email_changed.txt"),
    ),
    (
        "email_changed.html",
        include_str!("templates/email_changed.html"),
    ),
    ("new_device.txt", include_str!("templates/new_device.txt")),
    ("new_device.html", include_str!("templates/new_device.html")),
    (
        "refresh_reuse.txt",
        include_str!("templates/refresh_reuse.txt"),
    ),
    (
        "refresh_reuse.html",
        include_str!("templates/refresh_reuse.html"),
    ),
];

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Why a template would not render.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
    /// The origin the messages name and link to.
    site: String,
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name
    /// in `overrides` when there is one; every message is rendered once
    /// with sample facts, so that a broken template stops the start.
    pub fn load(overrides: Option<&Path>, site: &str) -> Result<Self, MailError> {
        let mut env = Environment::new();
        // A misspelt variable in an operator's template is an error at
        // start, not an empty gap in every mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in BUILT_IN {
            let source = match overrides.map(|dir| dir.join(name)) {
                Some(path) if path.exists() => {
                    std::fs::read_to_string(&path).map_err(|e| template_error(name, e))?
                }
                _ => (*source).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| template_error(name, e))?;
        }
        let templates = Self {
            env,
            site: site.to_owned(),
        };
        for kind in Kind::ALL {
            let sample = Letter {
                kind,
                to: "someone@example.com".to_owned(),
                facts: Facts {
                    username: "someone".to_owned(),
                    link: Some(format!("{site}/sample#token=sample")),
                    valid_for: Some("30 minutes".to_owned()),
                    at: Some(OffsetDateTime::UNIX_EPOCH),
                    browser: Some("Firefox on Linux".to_owned()),
                    client_addr: Some("192.0.2.1".to_owned()),
                    new_email: Some("s***@example.org".to_owned()),
                },
            };
            templates
                .render(&sample)
                .map_err(|e| template_error(&format!("{}.*", kind.as_str()), e))?;
        }
        Ok(templates)
    }

    /// Renders a letter's subject and both parts.
    pub fn render(&self, letter: &Letter) -> Result<Rendered, RenderError> {
        let f = &letter.facts;
        let at = f.at.map(|at| {
            at.to_offset(time::UtcOffset::UTC)
                .format(format_description!(
                    "[year]-[month]-[day] at [hour]:[minute] UTC"
                ))
                .unwrap_or_default()
        });
        let ctx = context! {
            username => f.username.clone(),
            email => letter.to.clone(),
            site => self.site.clone(),
            link => f.link.clone(),
            valid_for => f.valid_for.clone(),
            at => at,
            browser => f.browser.clone().unwrap_or_else(|| "an unknown device".to_owned()),
            client_addr => f.client_addr.clone(),
            new_email => f.new_email.clone(),
            reset_url => format!("{}/forgot-password", self.site),
            account_url => format!("{}/account", self.site),
        };
        let render = |extension: &str| {
            let name = format!("{}.{extension}", letter.kind.as_str());
            self.env
                .get_template(&name)
                .and_then(|t| t.render(ctx.clone()))
                .map_err(|e| RenderError(format!("{name}: {e:#}")))
        };
        let text = render("txt")?;
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                RenderError(format!(
                    "{}.txt must start with a `Subject: …` line",
                    letter.kind.as_str()
                ))
            })?;
        Ok(Rendered {
            subject: subject.to_owned(),
            text: body.trim_start_matches(['\r', '\n']).to_owned(),
            html: render("html")?,
        })
    }
}

fn template_error(name: &str, e: impl std::error::Error + Send + Sync + 'static) -> MailError {
    MailError::Template {
        name: name.to_owned(),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(kind: Kind) -> Letter {
        Letter {
            kind,
            to: "ada@example.com".to_owned(),
            facts: Facts {
                username: "<ada>".to_owned(),
                link: Some("https://auth.example.com/reset-password#token=abc".to_owned()),
                valid_for: Some("30 minutes".to_owned()),
                ..Facts::default()
            },
        }
    }

    #[test]
    fn every_message_has_a_subject_a_text_and_an_escaped_html_part() {
        let templates = Templates::load(None, "https://auth.example.com").expect("built-ins load");
        for kind in Kind::ALL {
            let r = templates.render(&letter(kind)).expect("renders");
            assert!(!r.subject.is_empty(), "{kind:?}");
            assert!(r.text.contains("Hello <ada>,"), "{kind:?}: {}", r.text);
            assert!(r.html.contains("Hello &lt;ada&gt;,"), "{kind:?}");
            assert!(
                !r.html.contains("<img") && !r.html.contains("src="),
                "{kind:?}"
            );
        }
        let reset = templates
            .render(&letter(Kind::PasswordReset))
            .expect("renders");
        assert_eq!(reset.subject, "Reset your password");
        assert!(
            reset
                .text
                .contains("https://auth.example.com/reset-password#token=abc")
        );
    }

    #[test]
    fn a_template_in_the_override_directory_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("password_reset.txt"),
            "Subject: Nouveau mot de passe\n\nBonjour {{ username }} : {{ link }}\n",
        )
        .expect("written");
        let templates = Templates::load(Some(dir.path()), "https://a.example").expect("loads");
        let r = templates
            .render(&letter(Kind::PasswordReset))
            .expect("renders");
        assert_eq!(r.subject, "Nouveau mot de passe");
        assert!(r.text.starts_with("Bonjour <ada> : https://"));
    }

    #[test]
    fn a_broken_override_stops_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("new_device.txt"),
            "Subject: x\n{{ usernme }}\n",
        )
        .expect("written");
        let error = Templates::load(Some(dir.path()), "https://a.example")
            .err()
            .expect("refused");
        assert!(error.to_string().contains("new_device"), "{error}");
        std::fs::write(dir.path().join("new_device.txt"), "no subject\n").expect("written");
        assert!(Templates::load(Some(dir.path()), "https://a.example").is_err());
    }
}
