//! `GET/POST /device` (RFC 8628 §3.3): a person enters the user code shown
//! on a device, signs in if needed, and allows or denies the device.
//!
//! Steps: `GET /device[?user_code=]` shows the entry form (pre-filled);
//! posting it checks the code and, when signed in, shows the consent form,
//! otherwise redirects to `/login`, which comes back to
//! `/device?user_code=…&step=consent`; posting the consent form with
//! `decision=allow|deny` decides. Every look-up of a code is throttled per
//! address, browser and user (RFC 8628 §5.1). A person who needs a second
//! factor (they have one, or the policy requires one) and signed in
//! without one sees neither the consent form nor can decide: the
//! second-factor page (or setting one up) comes first, and comes back to
//! the consent form.

use super::consent::{describe_scope, ScopeLine};
use super::filters;
use super::session::SignedIn;
use super::{csrf, parse_form, render, render_form, see_other, session, sign_in_first, PageError};
use crate::app::issue::session_sid;
use crate::app::metrics::Throttle;
use crate::app::sign_in::{client_addr, second_factor};
use crate::app::throttle::{self, ThrottleKey};
use crate::app::AppState;
use crate::oauth::authorize::Step;
use crate::oauth::device::{format_user_code, normalise_user_code, status};
use crate::store::models::device_code::DeviceCode;
use crate::store::models::{split_list, Client};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    csrf: String,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_consent.html")]
struct ConsentPage<'a> {
    csrf: String,
    user_code: &'a str,
    client_name: &'a str,
    scopes: Vec<ScopeLine>,
    username: &'a str,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage<'a> {
    approved: bool,
    client_name: &'a str,
}

#[derive(serde::Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
    step: Option<String>,
}

/// Why an entered code leads nowhere. Each has its own message; all count
/// as a failed attempt.
enum CodeProblem {
    Throttled(i64),
    Invalid,
    Expired,
    Used,
}

impl CodeProblem {
    fn status(&self) -> StatusCode {
        match self {
            CodeProblem::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> String {
        match self {
            CodeProblem::Throttled(secs) => format!(
                "Too many wrong codes. Wait {secs} second{} and try again.",
                if *secs == 1 { "" } else { "s" }
            ),
            CodeProblem::Invalid => {
                "That code is not valid. Check the code on your device and type it again.".into()
            }
            CodeProblem::Expired => {
                "That code has expired. Start again on your device to get a new code.".into()
            }
            CodeProblem::Used => {
                "That code has already been used. Start again on your device to get a new code."
                    .into()
            }
        }
    }
}

/// The entry form; with `step=consent` (where sign-in comes back to) and a
/// session, the consent form straight away.
pub async fn show(
    req: HttpRequest,
    query: web::Query<DeviceQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let typed = query.user_code.as_deref().unwrap_or("");
    if query.step.as_deref() == Some("consent") && !typed.is_empty() {
        if let Some(who) = session::current(&req, &state).await? {
            return consent_or_problem(&req, &state, &who, typed).await;
        }
    }
    let shown =
        normalise_user_code(typed).map_or_else(|| typed.to_string(), |c| format_user_code(&c));
    Ok(entry_page(&req, &state, StatusCode::OK, &shown, None))
}

/// Posts of the entry form (no `decision`) and of the consent form.
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let typed = form.get("user_code").unwrap_or("").trim();
    if typed.is_empty() {
        let msg = "Enter the code shown on your device.";
        return Ok(entry_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            "",
            Some(msg),
        ));
    }
    let who = session::current(&req, &state).await?;
    match (form.get("decision"), who) {
        (None, Some(who)) => consent_or_problem(&req, &state, &who, typed).await,
        (None, None) => match find_code(&req, &state, None, typed).await? {
            Ok((_, client)) => Ok(to_login(&state, typed, Some(&client.id))),
            Err(p) => Ok(entry_page(
                &req,
                &state,
                p.status(),
                typed,
                Some(&p.message()),
            )),
        },
        // The session ended between the consent form and the decision.
        (Some(_), None) => Ok(to_login(&state, typed, None)),
        (Some("allow"), Some(who)) => decide(&req, &state, &who, typed, true).await,
        (Some("deny"), Some(who)) => decide(&req, &state, &who, typed, false).await,
        (Some(_), Some(_)) => Err(PageError::BadRequest(
            "The decision must be allow or deny.".into(),
        )),
    }
}

/// 303 to the sign-in page, which comes back to this code's consent form.
/// When the code was just looked up (throttled), the address carries its
/// app's `client_id` and a MAC binding it to the code (`app_mac`), so the
/// sign-in page can name the app without a look-up of the code of its own
/// (which would let anyone try codes there unthrottled) and a crafted
/// address cannot make it name another.
fn to_login(state: &AppState, typed: &str, client_id: Option<&str>) -> HttpResponse {
    let code =
        normalise_user_code(typed).map_or_else(|| typed.to_string(), |c| format_user_code(&c));
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    back.append_pair("user_code", &code)
        .append_pair("step", "consent");
    if let Some(id) = client_id {
        back.append_pair("client_id", id)
            .append_pair("app_mac", &app_mac(state, &code, id));
    }
    sign_in_first(&format!("/device?{}", back.finish()))
}

/// The MAC, under the server secret, that says the code `user_code` is
/// `client_id`'s (as shown on the sign-in page).
pub fn app_mac(state: &AppState, user_code: &str, client_id: &str) -> String {
    crate::crypto::b64url(&state.server_secret.mac(&[
        b"gatehouse-device-app-v1",
        user_code.as_bytes(),
        client_id.as_bytes(),
    ]))
}

/// The second factor this person must use first, when they signed in
/// without one and have one (the second-factor page) or the policy
/// requires one (`/account`, to set one up): the response that sends them
/// there, coming back to this code's consent form.
async fn factor_first(
    state: &AppState,
    who: &SignedIn,
    typed: &str,
) -> Result<Option<HttpResponse>, PageError> {
    let factor = second_factor(state, &who.user).await?;
    let code =
        normalise_user_code(typed).map_or_else(|| typed.to_string(), |c| format_user_code(&c));
    let back = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("user_code", &code)
        .append_pair("step", "consent")
        .finish();
    let next = format!("/device?{back}");
    Ok(match factor.detour(false, who.session.amr().is_mfa()) {
        Some(Step::StepUp) => {
            let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            Some(see_other(&format!("/login/factor?{q}")))
        }
        Some(_) => {
            let q = serde_urlencoded::to_string([("enrol", "policy"), ("next", next.as_str())])
                .unwrap_or_default();
            Some(see_other(&format!("/account?{q}")))
        }
        None => None,
    })
}

async fn consent_or_problem(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    typed: &str,
) -> Result<HttpResponse, PageError> {
    if let Some(detour) = factor_first(state, who, typed).await? {
        return Ok(detour);
    }
    match find_code(req, state, Some(who), typed).await? {
        Ok((code, client)) => Ok(consent_page(req, state, who, &code, &client)),
        Err(p) => Ok(entry_page(
            req,
            state,
            p.status(),
            typed,
            Some(&p.message()),
        )),
    }
}

/// Records the person's decision. Allowing records the consent in the same
/// transaction that approves the code. The consent form showed the code to
/// compare with the device (RFC 8628 §3.3.1) and the remote-phishing
/// warning (§5.4).
async fn decide(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    typed: &str,
    approve: bool,
) -> Result<HttpResponse, PageError> {
    // Denying needs no second factor; allowing does.
    if approve {
        if let Some(detour) = factor_first(state, who, typed).await? {
            return Ok(detour);
        }
    }
    let (code, client) = match find_code(req, state, Some(who), typed).await? {
        Ok(found) => found,
        Err(p) => {
            return Ok(entry_page(
                req,
                state,
                p.status(),
                typed,
                Some(&p.message()),
            ))
        }
    };
    let user_id = who.user.id.clone();
    let now = state.clock.now();
    let (auth_time, sid) = (who.session.auth_time, session_sid(state, &who.session));
    let amr = who.session.amr().as_text();
    let decided = state
        .store
        .run(move |c| {
            c.transaction(|c| -> Result<bool, StoreError> {
                let won = c.decide_device_code(
                    &code.device_code_hash,
                    &user_id,
                    approve,
                    now,
                    (auth_time, &sid, &amr),
                )?;
                if won && approve {
                    let scope: Vec<String> = split_list(&code.scope).map(str::to_string).collect();
                    c.grant_consent(&user_id, &code.client_id, &scope, now)?;
                }
                Ok(won)
            })
        })
        .await?;
    if !decided {
        // Decided in another tab, or expired while the form was open.
        let p = CodeProblem::Used;
        return Ok(entry_page(req, state, p.status(), "", Some(&p.message())));
    }
    Ok(render(
        state,
        StatusCode::OK,
        &DonePage {
            approved: approve,
            client_name: &client.name,
        },
    ))
}

/// The throttle keys for this attempt: the address, the browser (its CSRF
/// cookie) and, when signed in, the user.
fn throttle_keys(req: &HttpRequest, state: &AppState, who: Option<&SignedIn>) -> Vec<ThrottleKey> {
    let mut keys = vec![ThrottleKey::DeviceAddress(client_addr(req))];
    if let Some(value) = csrf::browser_value(req, state) {
        keys.push(ThrottleKey::device_browser(&value));
    }
    if let Some(who) = who {
        keys.push(ThrottleKey::DeviceUser(who.user.id.clone()));
    }
    keys
}

/// Looks up a typed user code, throttled: RFC 8628 §5.1 recommends
/// rate-limiting user code attempts, since a user code has far less entropy
/// than a device code. Every attempt counts as a failure for every key
/// before the code is looked up, and is given back when the code is good;
/// a throttled attempt is not even looked up. So a burst of parallel
/// guesses gets no more codes looked up than guesses one at a time.
async fn find_code(
    req: &HttpRequest,
    state: &AppState,
    who: Option<&SignedIn>,
    typed: &str,
) -> Result<Result<(DeviceCode, Client), CodeProblem>, PageError> {
    let keys = throttle_keys(req, state, who);
    let normalised = normalise_user_code(typed);
    let now_ms = state.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    let found = state
        .store
        .run(move |c| -> Result<_, StoreError> {
            let reservation = match throttle::reserve(c, &keys, now_ms)? {
                Ok(r) => r,
                Err(wait) => return Ok(Err(CodeProblem::Throttled(wait))),
            };
            let found = match normalised {
                Some(code) => judge_entry(c.find_device_code_by_user_code(&code)?, now),
                None => Err(CodeProblem::Invalid),
            };
            let found = match found {
                Ok(code) => match c.find_client(&code.client_id)? {
                    Some(client) => Ok((code, client)),
                    None => Err(CodeProblem::Invalid),
                },
                Err(p) => Err(p),
            };
            if found.is_ok() {
                throttle::release(c, &reservation, None)?;
            }
            Ok(found)
        })
        .await?;
    if matches!(found, Err(CodeProblem::Throttled(_))) {
        state.metrics.throttled(Throttle::UserCode);
    }
    Ok(found)
}

/// Whether an entered code may still be decided.
fn judge_entry(code: Option<DeviceCode>, now: i64) -> Result<DeviceCode, CodeProblem> {
    let code = code.ok_or(CodeProblem::Invalid)?;
    if code.status != status::PENDING {
        Err(CodeProblem::Used)
    } else if now >= code.expires_at {
        Err(CodeProblem::Expired)
    } else {
        Ok(code)
    }
}

fn entry_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    user_code: &str,
    error: Option<&str>,
) -> HttpResponse {
    render_form(req, state, status, |csrf| EntryPage {
        csrf,
        user_code,
        error,
    })
}

fn consent_page(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    code: &DeviceCode,
    client: &Client,
) -> HttpResponse {
    let shown = format_user_code(&code.user_code);
    let scopes = split_list(&code.scope)
        .map(|s| ScopeLine {
            name: s.to_string(),
            description: describe_scope(state, s),
        })
        .collect();
    render_form(req, state, StatusCode::OK, |csrf| ConsentPage {
        csrf,
        user_code: &shown,
        client_name: &client.name,
        scopes,
        username: &who.user.username,
    })
}
