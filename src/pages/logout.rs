//! `GET/POST /logout`: signing out, and OpenID Connect RP-Initiated Logout
//! 1.0 (this is the `end_session_endpoint`). An app may send the person
//! here with `id_token_hint`, `client_id`, `post_logout_redirect_uri` and
//! `state`; the page asks them to confirm (a CSRF-protected form carrying
//! those values), the post signs them out and, only when the address is
//! one registered for that app, sends them there with `state`. Otherwise
//! they see the signed-out page: never a redirect anywhere unregistered.
//! When the `id_token_hint` names someone other than the person signed in
//! (§2: the app's session is out of date, the request suspect), the page
//! says so, the post signs out whoever confirms, and there is no redirect
//! (`oauth::logout::hint_names_someone_else`).

use super::filters;
use super::{csrf, parse_form, render, render_form, see_other, session, PageError};
use crate::app::AppState;
use crate::oauth::logout::{client_of, hint_names_someone_else, return_to, Hint};
use crate::oauth::wire::Form;
use crate::store::models::Client;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The RP-Initiated Logout §2 parameters the confirmation form carries to
/// the post (`ui_locales` and `logout_hint` are ignored).
const CARRIED: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

pub struct Carried {
    pub name: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    csrf: String,
    username: Option<&'a str>,
    done: bool,
    /// The app that sent the person here, when the request proves one.
    app_name: Option<&'a str>,
    carried: Vec<Carried>,
    /// Said on the signed-out page when the app's address was not used.
    not_returned: bool,
    /// The hint names someone other than the person signed in: said on
    /// the confirmation page, and why the signed-out page stays here.
    someone_else: bool,
}

/// The client a logout request speaks for (§2), when it proves one and it
/// exists; and the `sub` of a valid `id_token_hint`.
async fn requesting_client(
    state: &AppState,
    form: &Form,
) -> Result<(Option<Client>, Option<String>), PageError> {
    let keys = state.keys.current();
    let verified = form
        .get("id_token_hint")
        .map(|h| keys.verify_id_token_hint(h, &state.issuer));
    let hint = match &verified {
        None => Hint::Absent,
        Some(Some(claims)) => Hint::Valid { aud: &claims.aud },
        Some(None) => Hint::Invalid,
    };
    let hint_sub = verified
        .as_ref()
        .and_then(|v| v.as_ref())
        .map(|c| c.sub.clone());
    let Some(id) = client_of(form.get("client_id"), hint) else {
        return Ok((None, hint_sub));
    };
    let id = id.to_string();
    let client = state.store.run(move |c| c.find_client(&id)).await?;
    Ok((client, hint_sub))
}

/// The confirmation page. Its parameters follow RFC 6749's form rules
/// (no repeats, bounded lengths); a bad query is a 400 page.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let form = Form::parse_pairs(req.query_string().as_bytes())
        .map_err(|e| PageError::BadRequest(e.description()))?;
    let signed_in = session::current(&req, &state).await?;
    let (client, hint_sub) = requesting_client(&state, &form).await?;
    let someone_else = hint_names_someone_else(
        hint_sub.as_deref(),
        signed_in.as_ref().map(|s| s.user.id.as_str()),
    );
    let carried = CARRIED
        .iter()
        .filter_map(|name| {
            form.get(name).map(|v| Carried {
                name,
                value: v.to_string(),
            })
        })
        .collect();
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
        LogoutPage {
            csrf,
            username: signed_in.as_ref().map(|s| s.user.username.as_str()),
            done: false,
            app_name: client.as_ref().map(|c| c.name.as_str()),
            carried,
            not_returned: false,
            someone_else,
        }
    }))
}

/// Ends the session: the row is deleted and the cookie removed, so the next
/// authorization request asks to sign in. Then back to the app, or the
/// signed-out page.
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let signed_in = session::current(&req, &state).await?;
    if let Some(c) = req.cookie(session::COOKIE) {
        let value = c.value().to_string();
        state.store.run(move |c| c.delete_session(&value)).await?;
    }
    let (client, hint_sub) = requesting_client(&state, &form).await?;
    let someone_else = hint_names_someone_else(
        hint_sub.as_deref(),
        signed_in.as_ref().map(|s| s.user.id.as_str()),
    );
    let target = client.as_ref().filter(|_| !someone_else).and_then(|c| {
        return_to(
            form.get("post_logout_redirect_uri"),
            &c.post_logout_redirect_uri_list(),
            form.get("state"),
        )
    });
    let mut resp = match target {
        Some(url) => see_other(&url),
        None => {
            let (token, _) = csrf::token_for_session(&req, &state, None);
            render(
                &state,
                StatusCode::OK,
                &LogoutPage {
                    csrf: token,
                    username: None,
                    done: true,
                    app_name: None,
                    carried: Vec::new(),
                    not_returned: form.get("post_logout_redirect_uri").is_some(),
                    someone_else,
                },
            )
        }
    };
    let _ = resp.add_cookie(&session::removal(&state));
    Ok(resp)
}
