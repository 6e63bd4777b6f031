//! The authenticator app (RFC 6238 TOTP) and recovery codes on
//! `/account` (`account_totp.html` is its section there).
//!
//! `POST /account/totp`, by `action`:
//! - `start`: a new secret (sealed, unconfirmed, replacing an unconfirmed
//!   one), then `GET /account/totp` shows it: a QR code (inline SVG drawn
//!   here) and the base32 text (`id="totp_secret"`), and asks for one code
//!   (input `code`).
//! - `confirm`: a right code confirms the app (its step spent, so the same
//!   code cannot also sign in) and shows `RECOVERY_CODES` recovery codes
//!   once (`class="recovery-code"`). The session becomes a two-factor one
//!   (`pending::finish`, amr `pwd otp mfa`): typing a fresh code of the app
//!   is what the second step of a sign-in asks. A wrong code shows the same
//!   secret again with the error; nothing counts.
//! - `regenerate` (`current_password`): new recovery codes, shown once;
//!   the old ones are void.
//! - `remove` (`current_password`): removes the app and its recovery
//!   codes; refused when `GATEHOUSE_MFA` requires the person to keep a
//!   factor and it is their last.
//!
//! The password is checked like a sign-in (`authenticate_user`, in the
//! sign-in throttle), so these forms cannot be used to guess it.

use super::filters;
use super::session::SignedIn;
use super::{
    parse_form, pending, render, render_form, see_other, session, sign_in_first, PageError,
};
use crate::app::factors::{self, FactorChange};
use crate::app::metrics::SignInVia;
use crate::app::sign_in::{authenticate_user, client_addr, SignInError};
use crate::app::AppState;
use crate::oauth::amr::Method;
use crate::store::models::audit_event::{subject, AuditType, NewAuditEvent};
use crate::store::StoreResult;
use actix_web::http::header::SET_COOKIE;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The enrolment page: the secret as a QR code and as text, and the
/// confirmation form.
#[derive(Template)]
#[template(path = "account_totp_enrol.html")]
struct EnrolPage<'a> {
    csrf: String,
    secret: &'a str,
    qr_svg: &'a str,
    error: Option<&'a str>,
}

/// New recovery codes, shown this once.
#[derive(Template)]
#[template(path = "account_totp_codes.html")]
struct CodesPage<'a> {
    codes: &'a [String],
    /// The app was just confirmed (rather than the codes made anew).
    enrolled: bool,
}

/// A form that asks for the current password again, after a wrong one
/// or a refusal.
#[derive(Template)]
#[template(path = "account_totp_password.html")]
struct PasswordPage<'a> {
    csrf: String,
    action: &'a str,
    title: &'a str,
    error: &'a str,
}

/// `GET /account/totp`: the enrolment in progress, or back to `/account`.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account/totp"));
    };
    enrol_page(&req, &state, &me, StatusCode::OK, None).await
}

/// The person's unconfirmed secret, shown; `/account` when there is none.
async fn enrol_page(
    req: &HttpRequest,
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let uid = me.user.id.clone();
    let row = state.store.run(move |c| c.find_totp_factor(&uid)).await?;
    let secret = row
        .filter(|r| r.confirmed_at.is_none())
        .and_then(|r| factors::open(&state.server_secret, &me.user.id, &r.secret_sealed));
    let Some(secret) = secret else {
        return Ok(see_other("/account#factors-heading"));
    };
    let base32 = totp_rs::Secret::from(secret).to_base32();
    let url = factors::otpauth_url(&base32, &state.config.site_name, &me.user.username)
        .ok_or_else(|| PageError::Internal("the otpauth URL".into()))?;
    let qr = factors::qr_svg(&url).ok_or_else(|| PageError::Internal("the QR code".into()))?;
    Ok(render_form(req, state, status, |csrf| EnrolPage {
        csrf,
        secret: &base32,
        qr_svg: &qr,
        error,
    }))
}

/// `POST /account/totp`: `start`, `confirm`, `regenerate` or `remove`.
pub async fn act(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    match form.get("action") {
        Some("start") => start(&state, &me).await,
        Some("confirm") => confirm(&req, &state, &me, form.get("code").unwrap_or("")).await,
        Some(action @ ("regenerate" | "remove")) => {
            let password = form.get("current_password").unwrap_or("");
            with_password(&req, &state, &me, action, password).await
        }
        Some(other) => Err(PageError::BadRequest(format!(
            "Unknown action '{}': use start, confirm, regenerate or remove.",
            other.chars().take(40).collect::<String>()
        ))),
        None => Err(PageError::BadRequest("Which form? (action missing)".into())),
    }
}

/// A new secret, unconfirmed, then the enrolment page.
async fn start(state: &AppState, me: &SignedIn) -> Result<HttpResponse, PageError> {
    let new = factors::new_secret(&state.server_secret, &me.user.id)?;
    let (uid, now) = (me.user.id.clone(), state.clock.now());
    let begun = state
        .store
        .run(move |c| c.transaction(|tx| tx.begin_totp_factor(&uid, &new.sealed, now)))
        .await?;
    if !begun {
        // An app is set up already: remove it first.
        return Ok(see_other("/account#factors-heading"));
    }
    Ok(see_other("/account/totp"))
}

/// Checks the first code of the unconfirmed app; a right one confirms it,
/// makes recovery codes, and upgrades this session.
async fn confirm(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    me: &SignedIn,
    code: &str,
) -> Result<HttpResponse, PageError> {
    let uid = me.user.id.clone();
    let row = state.store.run(move |c| c.find_totp_factor(&uid)).await?;
    let Some(row) = row.filter(|r| r.confirmed_at.is_none()) else {
        return Ok(see_other("/account#factors-heading"));
    };
    let now = state.clock.now();
    let step = factors::open(&state.server_secret, &me.user.id, &row.secret_sealed)
        .and_then(|s| factors::check_code(&s, code, now));
    let Some(step) = step else {
        let msg = "That code is not right. Type the six digits your app shows now.";
        return enrol_page(req, state, me, StatusCode::BAD_REQUEST, Some(msg)).await;
    };
    let codes = factors::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| factors::recovery_code_hash(&state.server_secret, &me.user.id, c))
        .collect();
    let (uid, sealed) = (me.user.id.clone(), row.secret_sealed.clone());
    let event = factor_event(req, &me.user.id, AuditType::FactorEnrolled, "totp");
    let at_ms = state.clock.now_millis();
    let notice = factors::factor_notice(state, &me.user, FactorChange::AppAdded)?;
    let st = state.clone();
    let confirmed = state
        .store
        .run(move |c| {
            c.transaction(|tx| -> StoreResult<bool> {
                if !tx.confirm_totp_factor(&uid, &sealed, step, now)? {
                    return Ok(false);
                }
                tx.replace_recovery_codes(&uid, &hashes, now)?;
                tx.record_audit(at_ms, &event)?;
                if let Some(mail) = &notice {
                    st.outbox.queue(tx, mail, now)?;
                }
                Ok(true)
            })
        })
        .await?;
    state.outbox.wake();
    if !confirmed {
        // Confirmed (or started anew) by another request meanwhile.
        return Ok(see_other("/account#factors-heading"));
    }
    tracing::info!(user = %me.user.id, "authenticator app set up");
    let page = render(
        state,
        StatusCode::OK,
        &CodesPage {
            codes: &codes,
            enrolled: true,
        },
    );
    upgraded(req, state, me, page).await
}

/// `page`, with this browser's session replaced by one that counts the
/// app as a second factor (unless it did already).
async fn upgraded(
    req: &HttpRequest,
    state: &AppState,
    me: &SignedIn,
    mut page: HttpResponse,
) -> Result<HttpResponse, PageError> {
    let amr = me.session.amr();
    if amr.values().contains(&"otp") {
        return Ok(page);
    }
    let first = pending::FirstFactor {
        user: me.user.clone(),
        amr,
        session: Some(me.session.clone()),
    };
    let signed_in = pending::finish(req, state, &first, &[Method::Otp], "/account").await?;
    for v in signed_in.headers().get_all(SET_COOKIE) {
        page.headers_mut().append(SET_COOKIE, v.clone());
    }
    Ok(page)
}

/// `regenerate` and `remove`, after the current password.
async fn with_password(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    me: &SignedIn,
    action: &str,
    password: &str,
) -> Result<HttpResponse, PageError> {
    let title = match action {
        "remove" => "Remove the authenticator app",
        _ => "New recovery codes",
    };
    let again = |status: StatusCode, error: &str| {
        render_form(req, state, status, |csrf| PasswordPage {
            csrf,
            action,
            title,
            error,
        })
    };
    let uid = me.user.id.clone();
    let factors = state.store.run(move |c| c.user_factors(&uid)).await?;
    if !factors.totp {
        return Ok(see_other("/account#factors-heading"));
    }
    if action == "remove" && !factors.may_remove_one(state.config.mfa.requires(me.user.is_admin)) {
        return Ok(again(
            StatusCode::CONFLICT,
            "This site requires a second step for signing in, and the app is your only one. \
             Add a passkey first, then remove the app.",
        ));
    }
    if password.is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "Enter your current password.",
        ));
    }
    match authenticate_user(
        state,
        &me.user.username,
        password,
        &client_addr(req),
        SignInVia::AccountPage,
        None,
    )
    .await
    {
        Ok(_) => {}
        Err(SignInError::Throttled(secs)) => {
            let msg = format!(
                "Too many failed attempts. Wait {secs} second{} and try again.",
                if secs == 1 { "" } else { "s" }
            );
            return Ok(again(StatusCode::TOO_MANY_REQUESTS, &msg));
        }
        Err(SignInError::Store(e)) => return Err(e.into()),
        Err(_) => {
            return Ok(again(
                StatusCode::UNAUTHORIZED,
                "That is not your current password.",
            ))
        }
    }
    let (uid, now) = (me.user.id.clone(), state.clock.now());
    let at_ms = state.clock.now_millis();
    if action == "remove" {
        let event = factor_event(req, &me.user.id, AuditType::FactorRemoved, "totp");
        let notice = factors::factor_notice(state, &me.user, FactorChange::AppRemoved)?;
        let st = state.clone();
        state
            .store
            .run(move |c| {
                c.transaction(|tx| {
                    tx.delete_totp_factor(&uid)?;
                    if let Some(mail) = &notice {
                        st.outbox.queue(tx, mail, now)?;
                    }
                    tx.record_audit(at_ms, &event)
                })
            })
            .await?;
        state.outbox.wake();
        tracing::info!(user = %me.user.id, "authenticator app removed");
        return Ok(see_other("/account#factors-heading"));
    }
    let codes = factors::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| factors::recovery_code_hash(&state.server_secret, &me.user.id, c))
        .collect();
    let event = factor_event(
        req,
        &me.user.id,
        AuditType::FactorEnrolled,
        "recovery_codes",
    );
    let notice = factors::factor_notice(state, &me.user, FactorChange::RecoveryCodesRenewed)?;
    let st = state.clone();
    state
        .store
        .run(move |c| {
            c.transaction(|tx| {
                tx.replace_recovery_codes(&uid, &hashes, now)?;
                if let Some(mail) = &notice {
                    st.outbox.queue(tx, mail, now)?;
                }
                tx.record_audit(at_ms, &event)
            })
        })
        .await?;
    state.outbox.wake();
    tracing::info!(user = %me.user.id, "recovery codes made anew");
    Ok(render(
        state,
        StatusCode::OK,
        &CodesPage {
            codes: &codes,
            enrolled: false,
        },
    ))
}

/// The audit event of a person's own change to their second factors.
pub(super) fn factor_event(
    req: &HttpRequest,
    user_id: &str,
    kind: AuditType,
    factor: &str,
) -> NewAuditEvent {
    crate::app::audit::person(req, user_id)
        .event(kind)
        .subject(subject::person(user_id))
        .detail("factor", factor)
}
