//! Sign-in with other providers: `/api/auth/oidc/*` and
//! `/api/auth/identities`.
//!
//! The start and the callback are browser navigations, not API calls, so
//! they answer pages when the browser asks for HTML: the callback ends on a
//! small page of our own that continues to `next`, with a meta refresh and a
//! link (no script: the pages' CSP forbids inline script). That step is
//! needed: the callback is reached by a redirect chain that began on the
//! provider's site, and browsers withhold `SameSite=Strict` cookies from
//! every request of such a chain — a plain redirect to `next` would arrive
//! without the session just set. A navigation that our own page starts is
//! same-site, and carries them.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::openapi::responses::{
    DatabaseUnavailable, HeadersTooLarge, RefreshThrottled, SessionUnavailable, Unauthenticated,
};
use crate::auth::{AuthError, Callback, CallbackOutcome};
use crate::domain::UserId;
use crate::web::Context;
use crate::web::client::SessionClient;
use crate::web::cookies;
use crate::web::failure::{Failure, attach};
use crate::web::next::{next_query, safe_next};
use crate::web::problem::{ApiError, Problem};
use crate::web::session::Authenticated;

/// Where a browser goes when `next` is not given.
const DEFAULT_NEXT: &str = "/";

/// The query parameters of a URL, the first of each name; a malformed
/// query yields what it can.
fn query_params(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the client asked for a page rather than JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A small page of our own, with the headers every such page carries.
fn page(status: StatusCode, title: &str, body: Markup, refresh_to: Option<&str>) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                @if let Some(to) = refresh_to {
                    meta http-equiv="refresh" content={ "0;url=" (to) };
                }
                title { (title) " · Portcullis" }
            }
            body { main { h1 { (title) } (body) } }
        }
    };
    let mut response = (status, axum::response::Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page that continues to `next` from our own origin.
fn continue_page(title: &str, next: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        html! { p { a href=(next) { "Continue" } } },
        Some(next),
    )
}

/// An error as a page (for a browser) or a problem; the flow cookie is
/// cleared either way, since the flow is over.
fn refusal(state: &Context, headers: &HeaderMap, error: AuthError) -> Response {
    let problem = ApiError::from(&error);
    let response = if wants_html(headers) {
        let (status, code) = problem.status_and_code();
        let text = match &error {
            AuthError::UnknownProvider => "There is no such sign-in provider.",
            AuthError::ProviderUnavailable(_) => {
                "The sign-in provider cannot be reached just now. Try again in a moment."
            }
            AuthError::ProviderDenied(_) => "The sign-in provider did not sign you in.",
            AuthError::InvalidIdToken(_) => "The sign-in provider's answer could not be trusted.",
            AuthError::InvalidFlow(_) => {
                "This sign-in was not started in this browser, has expired, or was used already. Start again."
            }
            AuthError::AccountExists => {
                "An account with this e-mail address exists. Sign in with its password, then link the provider on the account page."
            }
            AuthError::RegistrationClosed => "Registration is closed.",
            AuthError::EmailRequired => {
                "The sign-in provider did not share an e-mail address, which an account needs."
            }
            AuthError::IdentityInUse => {
                "This account at the provider is linked to another Portcullis account."
            }
            AuthError::EmailNotVerified => "Verify your e-mail address before signing in.",
            AuthError::InvalidCredentials => "This account cannot sign in.",
            _ => "Signing in did not work. Try again later.",
        };
        page(
            status,
            "Sign-in failed",
            html! {
                p { (text) }
                p { small { "Error code: " code { (code) } } }
                p { a href="/login" { "Back to sign-in" } }
            },
            None,
        )
    } else {
        problem.into_response()
    };
    let response = attach(Failure::of(error), response);
    cookies::attach(response, [state.cookies.clear_flow()])
}

/// `GET /api/auth/oidc/{provider}/start?next=/path`: 302 to the provider,
/// with the flow cookie.
#[utoipa::path(
    get,
    path = "/oidc/{provider}/start",
    tag = "providers",
    params(
        ("provider" = String, Path, description = "A configured provider's `id`"),
        ("next" = Option<String>, Query, description = "Where to go once signed in: a path on this site (default `/`)"),
    ),
    responses(
        (status = 302, description = "To the provider's authorization endpoint (authorization code flow, PKCE S256, `state`, `nonce`), with the `__Host-oidc_flow` cookie (`SameSite=Lax`, 10 minutes)", headers(("Location" = String, description = "The provider's authorization URL"), ("Set-Cookie" = String, description = "`__Host-oidc_flow`"))),
        (status = 400, description = "`invalid_request`: `next` is not a path on this site", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no provider has this id", body = Problem, content_type = "application/problem+json"),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 502, description = "`provider_unavailable`: the provider's discovery document or keys could not be fetched. With `Accept: text/html`, a page instead of a problem, for this and every refusal", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(DatabaseUnavailable)),
    )
)]
pub async fn start(
    State(state): State<Context>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let next = match param(&params, "next") {
        None | Some("") => DEFAULT_NEXT,
        Some(next) => match safe_next(next) {
            Some(next) => next,
            None => {
                return ApiError::RefusedRequest("next must be a path on this site")
                    .into_response();
            }
        },
    };
    match state.auth.begin_external(&provider, next, None).await {
        Ok(flow) => redirect_to_provider(&state, flow),
        Err(e) => refusal(&state, &headers, e),
    }
}

/// Where a linking continues.
#[derive(Serialize, ToSchema)]
struct LinkStart {
    /// The provider's authorization URL, to navigate to.
    location: String,
}

fn redirect_to_provider(state: &Context, flow: crate::auth::FlowStart) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(flow.location.as_str()) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
            cookies::attach(response, [state.cookies.flow(&flow.cookie)])
        }
        // A URL is always a valid header value; kept as an error, not a panic.
        Err(_) => ApiError::Internal.into_response(),
    }
}

/// `GET /api/auth/oidc/{provider}/callback`: where the provider sends the
/// browser back.
#[utoipa::path(
    get,
    path = "/oidc/{provider}/callback",
    tag = "providers",
    params(
        ("provider" = String, Path, description = "A configured provider's `id`"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The flow's `state`"),
        ("error" = Option<String>, Query, description = "The provider's refusal"),
        ("iss" = Option<String>, Query, description = "The issuer of the answer (RFC 9207)"),
    ),
    responses(
        (status = 200, description = "A page of ours that continues to `next` (meta refresh and a link; same-origin, so the `SameSite=Strict` session cookies set here are sent on). Signed in (both session cookies), linked (no cookies), on an account with a second factor no session but `__Host-mfa_pending`, continuing to `/login/verify?next=…` (`POST /api/auth/mfa/verify` completes it), or, when the provider vouches for the address of an existing account, no session but `__Host-oidc_link`, continuing to `/login?notice=link-provider`: a password sign-in to that account in this browser links the identity. `__Host-oidc_flow` is cleared", content_type = "text/html"),
        (status = 400, description = "`invalid_flow`: no sign-in of this browser waits for this answer (no, an unknown, a used or an expired `__Host-oidc_flow`; another `state` or `iss`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`provider_denied`: the provider refused (`detail` is its error code). `invalid_id_token`: the ID token failed a check. `invalid_credentials`: the account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`registration_closed`: a new identity, and registration is closed. `email_required`: the provider gave no address for a new account. `email_not_verified`: `require_verified_email` and the account's address is not verified", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no provider has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_exists`: the address is an existing account's and the provider does not assert it is verified (never linked). `identity_in_use`: linking an identity linked to another account", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: a new account, and this client address has registered more often than `address_registrations` allows", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a registration is accepted again"))),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 502, description = "`provider_unavailable`: the provider's token endpoint, discovery or keys could not be reached or answered nonsense", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(DatabaseUnavailable)),
    )
)]
pub async fn callback(
    State(state): State<Context>,
    Path(provider): Path<String>,
    SessionClient(client): SessionClient,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let presented = state.cookies.read(&headers);
    let callback = Callback {
        provider: &provider,
        code: param(&params, "code"),
        state: param(&params, "state"),
        error: param(&params, "error"),
        iss: param(&params, "iss"),
        flow_cookie: presented.flow,
        device: presented.device,
    };
    let outcome = match state.auth.complete_external(callback, &client).await {
        Ok(outcome) => outcome,
        Err(e) => return refusal(&state, &headers, e),
    };
    let clear_flow = state.cookies.clear_flow();
    match outcome {
        CallbackOutcome::SignedIn { session, next } => {
            let mut set = state.cookies.sign_in(&session);
            set.push(clear_flow);
            cookies::attach(continue_page("Signed in", &next), set)
        }
        CallbackOutcome::SecondFactor { pending, next } => {
            // No session yet: the account's own second factor comes first,
            // on the same page as after a password.
            let step = format!("/login/verify?{}", next_query(&next));
            let set = [
                clear_flow,
                state
                    .cookies
                    .mfa_pending(&pending.token.encode(), pending.lifetime),
            ];
            cookies::attach(continue_page("Enter your code", &step), set)
        }
        CallbackOutcome::Linked { next } => {
            cookies::attach(continue_page("Linked", &next), [clear_flow])
        }
        CallbackOutcome::ConfirmWithPassword { cookie, next } => {
            let login = format!(
                "/login?notice=link-provider&next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            let response = page(
                StatusCode::OK,
                "Sign in to link",
                html! {
                    p { "An account with this e-mail address exists. Sign in to it with its password to link the provider; from then on, either signs you in." }
                    p { a href=(login) { "Sign in" } }
                },
                Some(&login),
            );
            cookies::attach(response, [clear_flow, state.cookies.link(&cookie)])
        }
    }
}

/// `POST /api/auth/oidc/{provider}/link?next=/path`: a signed-in user links
/// a provider. 200 `{"location"}` with the flow cookie, for the page's
/// script to navigate to: a script's `fetch` cannot follow a redirect to
/// another site, and the pages' CSP (`form-action 'self'`) would stop a
/// form's redirect to one.
#[utoipa::path(
    post,
    path = "/oidc/{provider}/link",
    tag = "providers",
    security(("access_token" = []), ("refresh_token" = [])),
    params(
        ("provider" = String, Path, description = "A configured provider's `id`"),
        ("next" = Option<String>, Query, description = "Where to go once linked: a path on this site (default `/account`)"),
    ),
    responses(
        (status = 200, description = "Where to send the browser to link the provider, with the `__Host-oidc_flow` cookie; the callback links the identity to this account", body = LinkStart, headers(("Set-Cookie" = String, description = "`__Host-oidc_flow`"))),
        (status = 400, description = "`invalid_request`: `next` is not a path on this site", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`; see `POST /api/auth/reauthenticate`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no provider has this id", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 502, description = "`provider_unavailable`: the provider's discovery document or keys could not be fetched", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn link(
    State(state): State<Context>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    signed_in: Authenticated,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let next = match param(&params, "next") {
        None | Some("") => "/account",
        Some(next) => match safe_next(next) {
            Some(next) => next,
            None => {
                return signed_in
                    .respond(ApiError::RefusedRequest("next must be a path on this site"));
            }
        },
    };
    let Ok(user) = signed_in.claims.sub.parse::<UserId>() else {
        return signed_in.respond(ApiError::Unauthenticated);
    };
    // A new way to sign in is a change to the sign-in methods, as a new
    // factor is: a stolen session alone must not add its thief's.
    if let Err(e) = state
        .auth
        .require_recent_authentication(&signed_in.claims)
        .await
    {
        return signed_in.respond(e);
    }
    match state.auth.begin_external(&provider, next, Some(user)).await {
        Ok(flow) => {
            let body = Json(LinkStart {
                location: flow.location.to_string(),
            });
            signed_in.respond(cookies::attach(
                body.into_response(),
                [state.cookies.flow(&flow.cookie)],
            ))
        }
        Err(e) => signed_in.respond(refusal(&state, &headers, e)),
    }
}

/// `DELETE /api/auth/oidc/{provider}/link`: unlinks; 409
/// `last_sign_in_method` when it is the account's last way to sign in.
#[utoipa::path(
    delete,
    path = "/oidc/{provider}/link",
    tag = "providers",
    security(("access_token" = []), ("refresh_token" = [])),
    params(("provider" = String, Path, description = "A provider's `id`")),
    responses(
        (status = 204, description = "The identity at that provider is unlinked from this account"),
        (status = 401, response = inline(Unauthenticated)),
        (status = 403, description = "`reauthentication_required`: the session's sign-in or last re-authentication is older than `reauthentication_window`; see `POST /api/auth/reauthenticate`. `cross_site_request`: the request comes from another site (checked first)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: this account has no identity at that provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`: the account has no password, no passkey and no other identity; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn unlink(
    State(state): State<Context>,
    Path(provider): Path<String>,
    SessionClient(client): SessionClient,
    signed_in: Authenticated,
) -> Response {
    let Ok(user) = signed_in.claims.sub.parse::<UserId>() else {
        return signed_in.respond(ApiError::Unauthenticated);
    };
    if let Err(e) = state
        .auth
        .require_recent_authentication(&signed_in.claims)
        .await
    {
        return signed_in.respond(e);
    }
    match state.auth.unlink(user, &provider, &client).await {
        Ok(()) => signed_in.respond(StatusCode::NO_CONTENT),
        Err(e) => signed_in.respond(e),
    }
}

#[derive(Serialize, ToSchema)]
struct ProviderEntry {
    id: String,
    name: String,
    /// Where a "Continue with …" link points.
    start: String,
}

#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderEntry>,
}

/// `GET /api/auth/oidc/providers`: the configured providers, for a
/// frontend's buttons.
#[utoipa::path(
    get,
    path = "/oidc/providers",
    tag = "providers",
    responses(
        (status = 200, description = "The configured identity providers, in the configured order", body = ProviderList),
        (status = 431, response = inline(HeadersTooLarge)),
    )
)]
pub async fn providers(State(state): State<Context>) -> Response {
    let providers = state
        .auth
        .providers()
        .into_iter()
        .map(|p| ProviderEntry {
            start: format!("/api/auth/oidc/{}/start", p.id),
            id: p.id,
            name: p.name,
        })
        .collect();
    Json(ProviderList { providers }).into_response()
}

#[derive(Serialize, ToSchema)]
struct IdentityEntry {
    /// The provider's `id`.
    provider: String,
    /// Its display name.
    name: String,
    /// The address the provider gave when it was linked.
    email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    linked_at: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
struct IdentityList {
    identities: Vec<IdentityEntry>,
}

/// `GET /api/auth/identities`: the providers linked to the signed-in
/// account.
#[utoipa::path(
    get,
    path = "/identities",
    tag = "providers",
    security(("access_token" = []), ("refresh_token" = [])),
    responses(
        (status = 200, description = "The identities at other providers linked to this account, oldest first", body = IdentityList),
        (status = 401, response = inline(Unauthenticated)),
        (status = 429, response = inline(RefreshThrottled)),
        (status = 431, response = inline(HeadersTooLarge)),
        (status = 503, response = inline(SessionUnavailable)),
    )
)]
pub async fn identities(State(state): State<Context>, signed_in: Authenticated) -> Response {
    let Ok(user) = signed_in.claims.sub.parse::<UserId>() else {
        return signed_in.respond(ApiError::Unauthenticated);
    };
    match state.auth.identities(user).await {
        Ok(list) => {
            let identities = list
                .into_iter()
                .map(|i| IdentityEntry {
                    provider: i.provider,
                    name: i.name,
                    email: i.email,
                    linked_at: i.linked_at,
                })
                .collect();
            signed_in.respond(Json(IdentityList { identities }))
        }
        Err(e) => signed_in.respond(e),
    }
}
