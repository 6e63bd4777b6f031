//! `GET/POST /authorize` (RFC 6749 §4.1 and §4.2; POST as OpenID Connect
//! allows). Decides between: an error page (bad client or redirect URI), an
//! error redirect, the sign-in page, the consent page, or the answer.

use super::session::SignedIn;
use super::{see_other, session, PageError};
use crate::app::issue::{issue_access_token, session_sid};
use crate::app::AppState;
use crate::crypto::{random_token, token_hash};
use crate::oauth::authorize::{
    continuation_query, next_step, redirect_with, validate, AuthorizationRequest, AuthorizeError,
    ResponseType, Session, Step,
};
use crate::oauth::wire::max_len;
use crate::oauth::{GrantType, OAuthError};
use crate::store::models::authorization_code::AuthorizationCode;
use crate::store::models::Client;
use crate::store::StoreError;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

/// Validates raw authorization parameters (query string or form body).
pub async fn load_request(
    state: &AppState,
    raw: &[u8],
) -> Result<AuthorizationRequest<Client>, AuthorizeError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    let ids: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "client_id" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let client = match ids.as_slice() {
        // A NUL or an over-long id names no client; it is never queried.
        [one] if !one.contains('\0') && one.len() <= max_len("client_id") => {
            let id = one.clone();
            state
                .store
                .run(move |c| c.find_client(&id))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "internal error loading an authorization request");
                    AuthorizeError::Page(
                        "An internal error occurred. Please try again later.".into(),
                    )
                })?
        }
        _ => None,
    };
    validate(raw, move |_| client)
}

/// Renders an authorization error where the RFC says it goes.
pub fn error_response(state: &AppState, e: AuthorizeError) -> HttpResponse {
    match e {
        AuthorizeError::Page(message) => PageError::BadRequest(message).error_response(),
        AuthorizeError::Redirect {
            error,
            redirect_uri,
            state: st,
            fragment,
        } => {
            if let OAuthError::Server(cause) = &error {
                tracing::error!(error = %cause, "internal error in authorization");
            }
            let desc = error.description();
            let mut params = vec![
                ("error", error.code()),
                ("error_description", desc.as_str()),
            ];
            if let Some(s) = st.as_deref() {
                params.push(("state", s));
            }
            // RFC 9207: name the issuer in every authorization response.
            params.push(("iss", state.issuer.as_str()));
            see_other(&redirect_with(&redirect_uri, fragment, &params))
        }
    }
}

fn redirect_error(
    state: &AppState,
    areq: &AuthorizationRequest<Client>,
    error: OAuthError,
) -> HttpResponse {
    error_response(
        state,
        AuthorizeError::Redirect {
            error,
            redirect_uri: areq.redirect_uri.clone(),
            state: areq.state.clone(),
            fragment: areq.response_type == ResponseType::Token,
        },
    )
}

fn login_redirect(path: &str, query: &str) -> HttpResponse {
    let next = format!("{path}?{query}");
    let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
    see_other(&format!("/login?{q}"))
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(&req, &state, req.query_string().as_bytes().to_vec()).await
}

/// OpenID Connect Core §3.1.2.1: the same parameters as a form body.
pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    handle(&req, &state, body.to_vec()).await
}

async fn handle(req: &HttpRequest, state: &AppState, raw: Vec<u8>) -> HttpResponse {
    let areq = match load_request(state, &raw).await {
        Ok(r) => r,
        Err(e) => return error_response(state, e),
    };
    // OIDC Core §3.1.2.1: an ID token gatehouse issued (it may have
    // expired); anything else is a bad request.
    let hint_sub = match &areq.id_token_hint {
        Some(hint) => match state
            .keys
            .current()
            .verify_id_token_hint(hint, &state.issuer)
        {
            Some(claims) => Some(claims.sub),
            None => {
                return redirect_error(
                    state,
                    &areq,
                    OAuthError::InvalidRequest(
                        "id_token_hint is not an ID token issued by this server".into(),
                    ),
                )
            }
        },
        None => None,
    };
    let signed_in = match session::current(req, state).await {
        Ok(s) => s,
        Err(e) => return e.error_response(),
    };
    let consented = match &signed_in {
        Some(s) => {
            let (user_id, client_id) = (s.user.id.clone(), areq.client.id.clone());
            match state
                .store
                .run(move |c| c.find_consent(&user_id, &client_id))
                .await
            {
                Ok(c) => c.is_some_and(|c| c.covers(&areq.scope)),
                Err(e) => return PageError::from(e).error_response(),
            }
        }
        None => false,
    };
    let session = signed_in.as_ref().map(|s| Session {
        user_id: &s.user.id,
        auth_time: s.session.auth_time,
    });
    let now = state.clock.now();
    match next_step(&areq, session, hint_sub.as_deref(), consented, now) {
        Step::SignIn => login_redirect("/authorize", &continuation_query(&raw)),
        Step::Consent => see_other(&format!("/consent?{}", continuation_query(&raw))),
        Step::Fail(error) => redirect_error(state, &areq, error),
        Step::Answer => match signed_in {
            Some(s) => match complete(state, &areq, &s, false).await {
                Ok(r) => r,
                Err(e) => e.error_response(),
            },
            // next_step answers only for a signed-in person.
            None => login_redirect("/authorize", &continuation_query(&raw)),
        },
    }
}

/// Answers an approved request: a code in the query (§4.1.2) or a token in
/// the fragment (§4.2.2), recording consent in the same transaction when
/// the person just gave it.
pub async fn complete(
    state: &AppState,
    areq: &AuthorizationRequest<Client>,
    signed_in: &SignedIn,
    record_consent: bool,
) -> Result<HttpResponse, PageError> {
    let (user, auth_time) = (&signed_in.user, signed_in.session.auth_time);
    let now = state.clock.now();
    let scope = areq.scope.join(" ");
    let mut params: Vec<(&str, String)> = Vec::new();
    let (uid, cid, scopes) = (user.id.clone(), areq.client.id.clone(), areq.scope.clone());
    match areq.response_type {
        ResponseType::Code => {
            let code = random_token(32);
            let row = AuthorizationCode {
                code_hash: token_hash(&code),
                client_id: areq.client.id.clone(),
                user_id: user.id.clone(),
                redirect_uri: areq.redirect_uri_sent.then(|| areq.redirect_uri.clone()),
                scope: scope.clone(),
                code_challenge: areq.code_challenge.clone(),
                code_challenge_method: areq.code_challenge.as_ref().map(|_| "S256".to_string()),
                nonce: areq.nonce.clone(),
                auth_time,
                created_at: now,
                expires_at: now + state.config.auth_code_ttl,
                consumed_at: None,
                issued_jti: None,
                issued_jti_expires_at: None,
                sid: Some(session_sid(state, &signed_in.session)),
            };
            state
                .store
                .run(move |c| {
                    c.transaction(|c| -> Result<(), StoreError> {
                        if record_consent {
                            c.grant_consent(&uid, &cid, &scopes, now)?;
                        }
                        c.insert_authorization_code(&row)
                    })
                })
                .await?;
            params.push(("code", code));
        }
        ResponseType::Token => {
            let (jwt, claims) =
                issue_access_token(state, &user.id, &areq.client.id, &scope, Some(auth_time))
                    .await
                    .map_err(|e| PageError::Internal(e.to_string()))?;
            // Recorded (with the consent just given, in one transaction) so
            // that withdrawing consent deny-lists the token.
            let (jti, exp) = (claims.jti.clone(), claims.exp);
            state
                .store
                .run(move |c| {
                    c.transaction(|c| -> Result<(), StoreError> {
                        if record_consent {
                            c.grant_consent(&uid, &cid, &scopes, now)?;
                        }
                        c.record_user_access_token(&jti, &uid, &cid, exp)
                    })
                })
                .await?;
            state.metrics.token_issued(GrantType::Implicit);
            params.push(("access_token", jwt));
            params.push(("token_type", "Bearer".into()));
            params.push(("expires_in", (claims.exp - claims.iat).to_string()));
            params.push(("scope", scope));
        }
    }
    if let Some(s) = &areq.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.issuer.clone()));
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let location = redirect_with(
        &areq.redirect_uri,
        areq.response_type == ResponseType::Token,
        &borrowed,
    );
    Ok(see_other(&location))
}
