//! `POST /revoke`: RFC 7009 token revocation.

use super::client_auth::authenticate_client;
use super::error::ApiError;
use super::presented::{find, Presented};
use super::token::parse_form;
use crate::app::AppState;
use actix_web::{web, HttpRequest, HttpResponse};

/// RFC 7009 §2.1. Revoking a refresh token revokes its whole family;
/// revoking an access token puts its `jti` on the deny list until its
/// `exp`. §2.2: "invalid tokens do not cause an error response", so
/// unknown, expired and already revoked tokens get 200 too, and so does a
/// token of another client (which stays untouched): answering differently
/// would tell a client that someone else's token exists.
pub async fn revoke(
    req: HttpRequest,
    body: super::body::Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = parse_form(&req, &body)?;
    // §2.1: "The authorization server first validates the client
    // credentials (in case of a confidential client)".
    let client = authenticate_client(&req, &form, &state).await?;
    let token = form.require("token")?;
    let now = state.clock.now();
    // §2.1: the server "verifies whether the token was issued to the client
    // making the revocation request".
    match find(&state, token, form.get("token_type_hint")).await? {
        Some(Presented::Refresh(_, family)) if family.client_id == client.id => {
            // One transaction, which locks the family: a refresh racing
            // this one either commits first (and its new access token is
            // deny-listed here) or finds the family revoked.
            state
                .store
                .run(move |c| c.transaction(|c| c.revoke_refresh_family(&family.id, now)))
                .await?;
        }
        Some(Presented::Access(claims)) if claims.client_id == client.id => {
            state
                .store
                .run(move |c| c.revoke_access_token(&claims.jti, claims.exp))
                .await?;
        }
        _ => {}
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .finish())
}
