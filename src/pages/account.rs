//! `GET /account`: the apps a signed-in person has given access to, each
//! with a button to take it back (which also revokes that app's refresh
//! tokens for the person), the person's display name (OpenID Connect
//! `name`), which they may change, their password, which they may change
//! given the current one, and their signed-in sessions, which they may end.
//!
//! `POST /account` carries the password and sessions forms, told apart by
//! their `action` field: `change_password` (`current_password`,
//! `new_password`, `new_password_confirm`), `sign_out_others` (every
//! session but this browser's), `sign_out_session` (one, named by
//! `session`: a keyed hash of its stored hash, never the stored hash
//! itself). The display name and an app's access have their own paths.

use super::consent::{describe_scope, ScopeLine};
use super::filters;
use super::session::SignedIn;
use super::{
    parse_form, render_form, safe_next, see_other, session, sign_in_first, user_agent, PageError,
};
use crate::app::metrics::SignInVia;
use crate::app::sign_in::{authenticate_user, client_addr, SignInError};
use crate::app::AppState;
use crate::registry::{RegistryError, UserChange};
use crate::store::models::audit_event::{subject, AuditType};
use crate::store::models::browser_session::BrowserSession;
use crate::store::models::factors::Factors;
use crate::store::models::split_list;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct AppLine {
    pub client_id: String,
    pub name: String,
    /// What it may do, worded as the consent page worded it.
    pub scopes: Vec<ScopeLine>,
}

/// One of the person's signed-in sessions, as the list shows it.
pub struct SessionLine {
    /// What names it in a sign-out form (`session_ref`).
    pub id: String,
    /// "Firefox on Linux" (`user_agent::describe`).
    pub device: String,
    pub address: String,
    pub signed_in: String,
    pub last_seen: String,
    /// The browser looking at the page.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: String,
    username: &'a str,
    apps: Vec<AppLine>,
    sessions: Vec<SessionLine>,
    notes: Notes<'a>,
    /// The display name in the form.
    name: &'a str,
    name_error: Option<String>,
    password: PasswordErrors,
    /// Their second factors (`account_totp.html`, `account_passkeys.html`).
    factors: Factors,
    /// The factor policy (`GATEHOUSE_MFA`) asks this person for one.
    mfa_required: bool,
    /// Passkeys are offered (`app::passkeys`): the register button.
    passkeys_available: bool,
}

/// The change-password form's errors, beside its fields.
#[derive(Default)]
struct PasswordErrors {
    current_password: Option<String>,
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

impl PasswordErrors {
    fn any(&self) -> bool {
        self.current_password.is_some()
            || self.new_password.is_some()
            || self.new_password_confirm.is_some()
    }
}

#[derive(serde::Deserialize)]
pub struct AccountQuery {
    revoked: Option<String>,
    saved: Option<String>,
    password: Option<String>,
    signed_out: Option<usize>,
    /// Sent here to set up a second factor (`pages::authorize::to_enrol`):
    /// `app` when an app asked for one, `policy` when the policy requires
    /// one.
    enrol: Option<String>,
    /// The request to return to afterwards.
    next: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let name = me.user.name.clone().unwrap_or_default();
    let notes = Notes {
        revoked: query.revoked.as_deref(),
        saved: query.saved.as_deref(),
        password_changed: query.password.as_deref() == Some("changed"),
        signed_out: query.signed_out,
        enrol_app: query.enrol.as_deref() == Some("app"),
        // Only a way back to an app's request (or the device page).
        continue_to: query
            .enrol
            .as_ref()
            .map(|_| safe_next(query.next.as_deref()))
            .filter(|n| n != "/account"),
    };
    let forms = Forms {
        name: &name,
        ..Forms::default()
    };
    account_page(&req, &state, &me, StatusCode::OK, notes, forms).await
}

/// What the page reports after a post.
#[derive(Default)]
struct Notes<'a> {
    revoked: Option<&'a str>,
    saved: Option<&'a str>,
    /// The password was changed (and the other sessions ended).
    password_changed: bool,
    /// This many other sessions were signed out.
    signed_out: Option<usize>,
    /// An app asked for a second factor (`acr_values`) and the person has
    /// none: the two-step section says so.
    enrol_app: bool,
    /// Where the sign-in was going when it was sent here to set up a
    /// second factor: a link back, judged again when followed.
    continue_to: Option<String>,
}

/// What the forms show again after a refused post.
#[derive(Default)]
struct Forms<'a> {
    name: &'a str,
    name_error: Option<String>,
    password: PasswordErrors,
}

/// What names a session in a sign-out form: a keyed hash of its stored
/// hash under the server secret, so the page never shows what the table
/// keys sessions by, and a value seen on the page is no use elsewhere.
fn session_ref(state: &AppState, s: &BrowserSession) -> String {
    crate::crypto::b64url(
        &state
            .server_secret
            .mac(&[b"gatehouse-session-list", s.id_hash.as_bytes()])[..12],
    )
}

/// A time as the sessions list shows it.
fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The person's live sessions, this browser's first.
async fn sessions(state: &AppState, me: &SignedIn) -> Result<Vec<SessionLine>, PageError> {
    let (uid, now) = (me.user.id.clone(), state.clock.now());
    let rows = state
        .store
        .run(move |c| c.list_user_sessions(&uid, now))
        .await?;
    let mut lines: Vec<SessionLine> = rows
        .iter()
        .map(|s| SessionLine {
            id: session_ref(state, s),
            device: user_agent::describe(s.user_agent.as_deref()),
            address: s.ip.clone().unwrap_or_else(|| "unknown".into()),
            signed_in: when(s.auth_time),
            last_seen: when(s.last_seen_at),
            current: s.id_hash == me.session.id_hash,
        })
        .collect();
    lines.sort_by_key(|l| !l.current);
    Ok(lines)
}

async fn account_page(
    req: &HttpRequest,
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    notes: Notes<'_>,
    forms: Forms<'_>,
) -> Result<HttpResponse, PageError> {
    let uid = me.user.id.clone();
    let apps = state
        .store
        .run(move |c| c.list_consents(&uid))
        .await?
        .into_iter()
        .map(|(consent, name)| AppLine {
            client_id: consent.client_id,
            name,
            scopes: split_list(&consent.scope)
                .map(|s| ScopeLine {
                    name: s.to_string(),
                    description: describe_scope(state, s),
                })
                .collect(),
        })
        .collect();
    let sessions = sessions(state, me).await?;
    let uid = me.user.id.clone();
    let factors = state.store.run(move |c| c.user_factors(&uid)).await?;
    let mfa_required = state.config.mfa.requires(me.user.is_admin);
    Ok(render_form(req, state, status, |csrf| AccountPage {
        csrf,
        username: &me.user.username,
        apps,
        sessions,
        notes,
        name: forms.name,
        name_error: forms.name_error,
        password: forms.password,
        factors,
        mfa_required,
        passkeys_available: state.passkeys.available(),
    }))
}

/// `POST /account/profile`: the person changes their display name. A bad
/// one shows the page again with the error beside the field.
pub async fn profile(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let name = form.get("name").unwrap_or("").to_string();
    let change = UserChange {
        name: Some(name.clone()),
        ..Default::default()
    };
    let who = crate::app::audit::person(&req, &me.user.id);
    match state
        .registry()
        .acting(&who)
        .update_user(&me.user.id, change)
        .await
    {
        Ok(_) => Ok(see_other("/account?saved=1")),
        Err(RegistryError::Field { message, .. }) => {
            let forms = Forms {
                name: &name,
                name_error: Some(message),
                ..Forms::default()
            };
            account_page(
                &req,
                &state,
                &me,
                StatusCode::BAD_REQUEST,
                Notes::default(),
                forms,
            )
            .await
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

/// Withdraws consent for one app and revokes its refresh tokens and live
/// access tokens for this person, in one transaction.
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let client_id = form
        .get("client_id")
        .ok_or_else(|| PageError::BadRequest("Which app? (client_id missing)".into()))?
        .to_string();
    let now = state.clock.now();
    let (uid, cid) = (me.user.id.clone(), client_id.clone());
    let event = crate::app::audit::person(&req, &me.user.id)
        .event(AuditType::ConsentWithdrawn)
        .subject(subject::person(&me.user.id))
        .client(client_id.clone());
    let at_ms = state.clock.now_millis();
    let removed = state
        .store
        .run(move |c| {
            c.transaction(|c| -> Result<bool, StoreError> {
                let removed = c.delete_consent(&uid, &cid)?;
                c.revoke_families_for_user_client(&uid, &cid, now)?;
                // Access tokens issued without a refresh token (a client
                // without that grant, the implicit flow) die too.
                c.deny_user_access_tokens(&uid, Some(&cid), now)?;
                if removed {
                    c.record_audit(at_ms, &event)?;
                }
                Ok(removed)
            })
        })
        .await?;
    if !removed {
        return Err(PageError::NotFound(
            "That app has no access to your account.".into(),
        ));
    }
    Ok(see_other("/account?revoked=1"))
}

/// `POST /account`: the password and sessions forms, by `action`.
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
        Some("change_password") => {
            let current = form.get("current_password").unwrap_or("");
            let new = form.get("new_password").unwrap_or("");
            let confirm = form.get("new_password_confirm");
            change_password(&req, &state, &me, current, new, confirm).await
        }
        Some("sign_out_others") => {
            let (uid, keep) = (me.user.id.clone(), current_cookie(&req)?);
            let n = state
                .store
                .run(move |c| c.write(|c| c.delete_other_sessions(&uid, &keep)))
                .await?;
            Ok(see_other(&format!("/account?signed_out={n}")))
        }
        Some("sign_out_session") => {
            let wanted = form.get("session").unwrap_or("");
            let (uid, now) = (me.user.id.clone(), state.clock.now());
            let rows = state
                .store
                .run(move |c| c.list_user_sessions(&uid, now))
                .await?;
            // Compared in constant time, though it names only the person's own.
            let found = rows.into_iter().find(|s| {
                s.id_hash != me.session.id_hash
                    && crate::crypto::constant_time_eq(
                        session_ref(&state, s).as_bytes(),
                        wanted.as_bytes(),
                    )
            });
            let Some(found) = found else {
                return Err(PageError::NotFound(
                    "That session has ended already, or is not one of yours.".into(),
                ));
            };
            let uid = me.user.id.clone();
            let n = state
                .store
                .run(move |c| c.delete_user_session(&uid, &found.id_hash))
                .await?;
            Ok(see_other(&format!(
                "/account?signed_out={}",
                usize::from(n)
            )))
        }
        Some(other) => Err(PageError::BadRequest(format!(
            "Unknown action '{}': use change_password, sign_out_others or sign_out_session.",
            other.chars().take(40).collect::<String>()
        ))),
        None => Err(PageError::BadRequest("Which form? (action missing)".into())),
    }
}

/// This browser's session cookie value: the session `replace_password` and
/// `sign_out_others` keep.
fn current_cookie(req: &HttpRequest) -> Result<String, PageError> {
    req.cookie(session::COOKIE)
        .map(|c| c.value().to_string())
        .ok_or_else(|| PageError::BadRequest("Sign in first.".into()))
}

/// `action=change_password`: the new password by the rules
/// (`check_new_password`, NIST SP 800-63B §5.1.1.2), the confirmation (when
/// the form sent one) equal to it, and the current password checked like a
/// sign-in, in the sign-in throttle for this account and address, so the
/// page cannot be used to guess it. Then `replace_password` ends every
/// other session, refresh token family and access token of the person.
async fn change_password(
    req: &HttpRequest,
    state: &AppState,
    me: &SignedIn,
    current: &str,
    new: &str,
    confirm: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let name = me.user.name.clone().unwrap_or_default();
    let refuse = |errors: PasswordErrors| async {
        let forms = Forms {
            name: &name,
            password: errors,
            ..Forms::default()
        };
        account_page(
            req,
            state,
            me,
            StatusCode::BAD_REQUEST,
            Notes::default(),
            forms,
        )
        .await
    };
    let mut errors = PasswordErrors::default();
    if current.is_empty() {
        errors.current_password = Some("enter your current password".into());
    }
    let email = me.user.email.as_deref();
    if let Err(e) = crate::registry::users::check_new_password(new, &me.user.username, email) {
        errors.new_password = Some(e.to_string());
    } else if confirm.is_some_and(|c| c != new) {
        errors.new_password_confirm =
            Some("the two new passwords differ: type the same one twice".into());
    }
    if errors.any() {
        return refuse(errors).await;
    }
    let addr = client_addr(req);
    match authenticate_user(
        state,
        &me.user.username,
        current,
        &addr,
        SignInVia::AccountPage,
        None,
    )
    .await
    {
        Ok(user) if user.id == me.user.id => {}
        Ok(_) | Err(SignInError::Invalid | SignInError::Disabled) => {
            errors.current_password =
                Some("that is not your current password: nothing was changed".into());
            return refuse(errors).await;
        }
        Err(SignInError::Throttled(wait)) => {
            errors.current_password = Some(format!(
                "too many wrong passwords: try again in {wait} seconds"
            ));
            return refuse(errors).await;
        }
        Err(SignInError::Store(e)) => return Err(e.into()),
    }
    let keep = current_cookie(req)?;
    let who = crate::app::audit::person(req, &me.user.id);
    match state
        .registry()
        .acting(&who)
        .replace_password(
            &me.user,
            new,
            Some(keep),
            AuditType::PasswordChanged,
            |_| Ok(()),
        )
        .await
    {
        Ok(_) => Ok(see_other("/account?password=changed")),
        Err(RegistryError::Field { message, .. }) => {
            errors.new_password = Some(message);
            refuse(errors).await
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
