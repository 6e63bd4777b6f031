//! `GET/POST /authorize` (RFC 6749 §4.1 and §4.2; POST as OpenID Connect
//! allows). Decides between: an error page (bad client or redirect URI), an
//! error redirect, the sign-in page, the consent page, or the answer. A
//! request that asks to sign in again (`prompt=login`, `max_age`) goes to
//! the sign-in page sealed (`oauth::authorize::continuation`), and comes
//! back sealed; `load_request` opens the seal for this page and the
//! consent page alike. A person who needs a second factor and signed in
//! without one goes to the second-factor page (a step-up) or to set one up
//! on `/account`, the request (still sealed when it was) continuing after
//! either.

use super::session::SignedIn;
use super::{see_other, session, sign_in_first, PageError};
use crate::app::issue::{session_sid, sign_access_token, AccessTokenId};
use crate::app::sign_in::second_factor;
use crate::app::AppState;
use crate::crypto::{random_token, token_hash};
use crate::oauth::authorize::{
    canonical_query, continuation, forward, next_step, redirect_with, session_marker, unseal,
    validate, AuthorizationRequest, AuthorizeError, ResponseType, SecondFactor, Session, Step,
};
use crate::oauth::wire::max_len;
use crate::oauth::{GrantType, OAuthError};
use crate::store::models::audit_event::NewAuditEvent;
use crate::store::models::authorization_code::AuthorizationCode;
use crate::store::models::Client;
use crate::store::StoreError;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

/// A valid authorization request, and its parameters as the pages pass
/// them on (`canonical_query`; unsealed when it came sealed).
pub struct Loaded {
    pub areq: AuthorizationRequest<Client>,
    pub query: String,
}

/// Validates raw authorization parameters (query string or form body),
/// opening a sealed continuation first (`oauth::authorize::unseal`): its
/// re-authentication goes into `areq.reauth`.
pub async fn load_request(state: &AppState, raw: &[u8]) -> Result<Loaded, AuthorizeError> {
    let (query, reauth) = match unseal(raw, &state.server_secret)? {
        Some((query, need)) => (query, Some(need)),
        None => (canonical_query(raw), None),
    };
    // A sealed request is validated as it was sealed; any other as sent.
    let raw = match reauth {
        Some(_) => query.as_bytes(),
        None => raw,
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    let ids: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "client_id" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let client = match ids.as_slice() {
        // A NUL or an over-long id names no client; it is never queried.
        // draft-ietf-oauth-client-id-metadata-document: an https URL is
        // the client's metadata document, when the settings allow it.
        [one] if crate::oauth::client_document::is_document_id(one) => {
            Some(document_client(state, one).await?)
        }
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
    let mut areq = validate(raw, move |_| client)?;
    areq.reauth = reauth;
    // RFC 8707 §2: only resources this client may name (the operator's
    // list or its own); refused at the client's redirect URI.
    if let Err(error) = crate::oauth::resource::check_allowed(
        &areq.resource,
        &state.config.resources,
        &areq.client.resource_list(),
    ) {
        return Err(AuthorizeError::Redirect {
            error,
            redirect_uri: areq.redirect_uri.clone(),
            state: areq.state.clone(),
            fragment: areq.response_type == ResponseType::Token,
        });
    }
    Ok(Loaded { areq, query })
}

/// The client a metadata document describes: fetched (or cached) by
/// `app::client_documents`, and its row stored or brought in step.
async fn document_client(state: &AppState, client_id: &str) -> Result<Client, AuthorizeError> {
    let now = state.clock.now();
    let doc = state
        .client_documents
        .get(&state.config, now, client_id)
        .await
        .map_err(|why| {
            AuthorizeError::Page(format!(
                "This app's client_id is a client metadata document that cannot be used: {why}."
            ))
        })?;
    let row = crate::app::client_documents::client_row(&state.config, &doc, now);
    state
        .store
        .run(move |c| crate::app::client_documents::upsert_client(c, row))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "internal error storing a document client");
            AuthorizeError::Page("An internal error occurred. Please try again later.".into())
        })
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

pub fn redirect_error(
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

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(&req, &state, req.query_string().as_bytes().to_vec()).await
}

/// OpenID Connect Core §3.1.2.1: the same parameters as a form body.
pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    handle(&req, &state, body.to_vec()).await
}

/// Where a request stands for this browser: who is signed in, and what
/// `next_step` makes of it. `consented` is looked up only when asked
/// (the consent page is where consent is given). An answer that is not a
/// step (a bad `id_token_hint`, a store error) is the response to send.
pub async fn judge(
    req: &HttpRequest,
    state: &AppState,
    loaded: &Loaded,
    look_up_consent: bool,
) -> Result<(Step, Option<SignedIn>), HttpResponse> {
    let areq = &loaded.areq;
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
                return Err(redirect_error(
                    state,
                    areq,
                    OAuthError::InvalidRequest(
                        "id_token_hint is not an ID token issued by this server".into(),
                    ),
                ))
            }
        },
        None => None,
    };
    let signed_in = session::current(req, state)
        .await
        .map_err(|e| e.error_response())?;
    let consented = match &signed_in {
        Some(s) if look_up_consent => {
            let (user_id, client_id) = (s.user.id.clone(), areq.client.id.clone());
            match state
                .store
                .run(move |c| c.find_consent(&user_id, &client_id))
                .await
            {
                Ok(c) => c.is_some_and(|c| c.covers(&areq.scope)),
                Err(e) => return Err(PageError::from(e).error_response()),
            }
        }
        Some(_) => true,
        None => false,
    };
    let factor = match &signed_in {
        Some(s) => second_factor(state, &s.user)
            .await
            .map_err(|e| PageError::from(e).error_response())?,
        None => SecondFactor::default(),
    };
    let marker = signed_in
        .as_ref()
        .map(|s| session_marker(&state.server_secret, &s.session.id_hash));
    let session = signed_in
        .as_ref()
        .zip(marker.as_deref())
        .map(|(s, m)| Session {
            user_id: &s.user.id,
            auth_time: s.session.auth_time,
            marker: m,
            mfa: s.session.amr().is_mfa(),
        });
    let now = state.clock.now();
    let step = next_step(areq, session, hint_sub.as_deref(), consented, now, factor);
    Ok((step, signed_in))
}

/// `303` to the sign-in page, continuing to `path` (`/authorize` or
/// `/consent`) with the request, sealed when it asks to sign in again
/// (`oauth::authorize::continuation`).
pub fn to_sign_in(
    state: &AppState,
    path: &str,
    loaded: &Loaded,
    signed_in: Option<&SignedIn>,
) -> HttpResponse {
    let marker = signed_in.map(|s| session_marker(&state.server_secret, &s.session.id_hash));
    let current = signed_in.zip(marker.as_deref()).map(|(s, m)| Session {
        user_id: &s.user.id,
        auth_time: s.session.auth_time,
        marker: m,
        mfa: s.session.amr().is_mfa(),
    });
    let query = continuation(
        &loaded.areq,
        &loaded.query,
        current.as_ref(),
        state.clock.now(),
        &state.server_secret,
    );
    sign_in_first(&format!("{path}?{query}"))
}

/// `303` to the second-factor page (`Step::StepUp`), continuing to `path`
/// (`/authorize` or `/consent`) with the request as it came (sealed again
/// when it continues a re-authentication), so the detour skips nothing:
/// the request is judged again afterwards.
pub fn to_second_factor(state: &AppState, path: &str, loaded: &Loaded) -> HttpResponse {
    let next = format!("{path}?{}", forwarded(state, loaded));
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    see_other(&format!("/login/factor?{q}"))
}

/// `303` to `/account` to set up a second factor (`Step::Enrol`), saying
/// who asks for it (`enrol=app`: the request's `acr_values`; else the
/// policy), with the request to return to afterwards.
pub fn to_enrol(state: &AppState, path: &str, loaded: &Loaded) -> HttpResponse {
    let next = format!("{path}?{}", forwarded(state, loaded));
    let why = if loaded.areq.asks_second_factor() {
        "app"
    } else {
        "policy"
    };
    let q =
        serde_urlencoded::to_string([("enrol", why), ("next", next.as_str())]).unwrap_or_default();
    see_other(&format!("/account?{q}"))
}

/// The request as the consent page carries it: sealed again when it
/// continues a re-authentication, so the page and its post judge it as
/// `/authorize` did.
pub fn forwarded(state: &AppState, loaded: &Loaded) -> String {
    forward(&loaded.areq, &loaded.query, &state.server_secret)
}

async fn handle(req: &HttpRequest, state: &AppState, raw: Vec<u8>) -> HttpResponse {
    let loaded = match load_request(state, &raw).await {
        Ok(r) => r,
        Err(e) => return error_response(state, e),
    };
    let (step, signed_in) = match judge(req, state, &loaded, true).await {
        Ok(j) => j,
        Err(resp) => return resp,
    };
    match step {
        Step::SignIn => to_sign_in(state, "/authorize", &loaded, signed_in.as_ref()),
        Step::Consent => see_other(&format!("/consent?{}", forwarded(state, &loaded))),
        Step::Fail(error) => redirect_error(state, &loaded.areq, error),
        Step::StepUp => to_second_factor(state, "/authorize", &loaded),
        Step::Enrol => to_enrol(state, "/authorize", &loaded),
        Step::Answer => match signed_in {
            Some(s) => match complete(state, &loaded.areq, &s, None).await {
                Ok(r) => r,
                Err(e) => e.error_response(),
            },
            // next_step answers only for a signed-in person.
            None => to_sign_in(state, "/authorize", &loaded, None),
        },
    }
}

/// Answers an approved request: a code in the query (§4.1.2) or a token in
/// the fragment (§4.2.2), recording consent in the same transaction when
/// the person just gave it (`consent_given`: the audit event, which names
/// the scopes).
pub async fn complete(
    state: &AppState,
    areq: &AuthorizationRequest<Client>,
    signed_in: &SignedIn,
    consent_given: Option<NewAuditEvent>,
) -> Result<HttpResponse, PageError> {
    let at_ms = state.clock.now_millis();
    let consent_given = consent_given.map(|e| e.detail("scope", areq.scope.join(" ")));
    let consent_event = consent_given.clone();
    let (user, auth_time) = (&signed_in.user, signed_in.session.auth_time);
    let amr = signed_in.session.amr();
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
                amr: Some(amr.as_text()),
                resource: crate::oauth::resource::join(&areq.resource),
            };
            state
                .store
                .run(move |c| {
                    c.transaction(|c| -> Result<(), StoreError> {
                        if let Some(e) = &consent_event {
                            c.grant_consent(&uid, &cid, &scopes, now)?;
                            c.record_audit(at_ms, e)?;
                        }
                        c.insert_authorization_code(&row)
                    })
                })
                .await?;
            params.push(("code", code));
        }
        ResponseType::Token => {
            let (jwt, claims) = sign_access_token(
                state,
                AccessTokenId::new(state).for_resources(areq.resource.clone()),
                &user.id,
                &areq.client.id,
                &scope,
                Some(auth_time),
                Some(&amr),
            )
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
            // Recorded (with the consent just given, in one transaction) so
            // that withdrawing consent deny-lists the token.
            let (jti, exp) = (claims.jti.clone(), claims.exp);
            state
                .store
                .run(move |c| {
                    c.transaction(|c| -> Result<(), StoreError> {
                        if let Some(e) = &consent_given {
                            c.grant_consent(&uid, &cid, &scopes, now)?;
                            c.record_audit(at_ms, e)?;
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
