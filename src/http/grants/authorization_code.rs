//! RFC 6749 §4.1.3: exchanging an authorization code, with RFC 7636 PKCE.

use crate::app::issue::{sign_access_token, AccessTokenId, FamilyLifetimes, SignIn, TokenResponse};
use crate::app::AppState;
use crate::crypto::token_hash;
use crate::oauth::amr::Amr;
use crate::oauth::code::{bad_code, judge_exchange, Exchange, IssuedCode, Verdict};
use crate::oauth::wire::Form;
use crate::oauth::{ClientId, ClientPolicy, GrantType, OAuthError};
use crate::store::models::authorization_code::{AuthorizationCode, FamilyTtl, Redemption};
use crate::store::models::{Client, User};
use actix_web::web;

enum Outcome {
    /// Redeemed and recorded; the tokens are signed after the commit.
    Redeemed(Box<Redeemed>),
    /// The code was used before: everything it issued is now revoked.
    Replayed,
}

struct Redeemed {
    code: AuthorizationCode,
    user: User,
    access: AccessTokenId,
    refresh_token: Option<String>,
}

pub async fn grant(
    state: &web::Data<AppState>,
    client: &Client,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let code_hash = token_hash(form.require("code")?);
    let redirect_uri = form.get("redirect_uri").map(str::to_string);
    let verifier = form.get("code_verifier").map(str::to_string);
    let resources = super::ResourceRequest::new(state, client, form)?;
    let client_id = client.id.clone();
    let client = client.clone();
    let client_uris = client.redirect_uris();
    let now = state.clock.now();
    let lifetimes = FamilyLifetimes::new(state);
    let st = state.clone();
    // The transaction spends the code and records what it issues; signing
    // (RSA, about 0.25 ms) comes after the commit, so on SQLite it never
    // holds the one write turn: inside, it capped exchanges near 1,900/s.
    let outcome = state
        .store
        .run(move |c| {
            c.transaction(|c| -> Result<Outcome, OAuthError> {
                let exchange = Exchange {
                    client_id: ClientId(&client.id),
                    client_redirect_uris: &client_uris,
                    redirect_uri: redirect_uri.as_deref(),
                    code_verifier: verifier.as_deref(),
                    now,
                };
                let judge = |code: &AuthorizationCode| {
                    judge_exchange(
                        &IssuedCode {
                            client_id: ClientId(&code.client_id),
                            redirect_uri: code.redirect_uri.as_deref(),
                            code_challenge: code.code_challenge.as_deref(),
                            expires_at: code.expires_at,
                            consumed: code.consumed_at.is_some(),
                        },
                        &exchange,
                    )
                };
                // Spends an unspent code and records what it issues (the
                // access token's id, and for a client that may refresh a
                // family started from the code), then the rules judge the
                // code as it was: a refusal returns `Err`, and the rollback
                // undoes every write, leaving the code unspent. The
                // conditional update lets exactly one of two racing
                // redemptions win. On PostgreSQL this is one statement.
                let mut access = AccessTokenId::new(&st);
                let spent = c.redeem_authorization_code(Redemption {
                    code_hash: &code_hash,
                    now,
                    client_id: &client.id,
                    access: access.as_issued(),
                    refresh: client
                        .has_grant(GrantType::RefreshToken)
                        .then_some(FamilyTtl {
                            idle_ttl: lifetimes.idle_ttl,
                            max_ttl: lifetimes.max_ttl,
                        }),
                })?;
                let (code, user, refresh_token) = match spent {
                    Some(r) => match judge(&r.code)? {
                        Verdict::Redeem => (r.code, r.user, r.refresh_token),
                        // Not for a code read unspent.
                        Verdict::Replayed => return Err(bad_code()),
                    },
                    // Unknown, or spent: by an earlier request, or by a
                    // racing one (PostgreSQL: the update waited for the
                    // winner's commit; SQLite holds the write lock from
                    // BEGIN). What it issued is visible now.
                    None => {
                        let Some(code) = c.find_authorization_code(&code_hash)? else {
                            return Err(bad_code());
                        };
                        match judge(&code)? {
                            Verdict::Replayed => {
                                // RFC 6749 §4.1.2: revoke what the code issued.
                                c.revoke_families_from_code(&code_hash, now)?;
                                if let Some((jti, exp)) =
                                    code.issued_jti.clone().zip(code.issued_jti_expires_at)
                                {
                                    c.revoke_access_token(&jti, exp)?;
                                }
                                return Ok(Outcome::Replayed);
                            }
                            // Unspent, yet the update missed it: only a
                            // code that changed between the two statements.
                            Verdict::Redeem => return Err(bad_code()),
                        }
                    }
                };
                // RFC 8707 §2.2: the token is for the resources the code
                // was granted, or the fewer this request names (the family
                // keeps every resource granted: a refresh may name any).
                access.resource = resources.judge(code.resource.as_deref())?;
                // The user may have been disabled since the code was issued
                // (as the refresh, device and password grants check too).
                let Some(user) = user.filter(|u| !u.disabled) else {
                    return Err(bad_code());
                };
                Ok(Outcome::Redeemed(Box::new(Redeemed {
                    code,
                    user,
                    access,
                    refresh_token,
                })))
            })
        })
        .await?;
    let Redeemed {
        code,
        user,
        access,
        refresh_token,
    } = match outcome {
        Outcome::Redeemed(r) => *r,
        Outcome::Replayed => return Err(bad_code()),
    };
    // A code issued before the sign-in's methods were kept: a password.
    let amr = Amr::from_text(code.amr.as_deref().unwrap_or(""));
    let (jwt, claims) = sign_access_token(
        state,
        access,
        &code.user_id,
        &client_id,
        &code.scope,
        Some(code.auth_time),
        Some(&amr),
    )
    .await?;
    // OIDC Core §3.1.3.3: with `openid`, an ID token too, echoing the
    // request's nonce (§3.1.3.6).
    let sign_in = SignIn {
        user: &user,
        auth_time: code.auth_time,
        nonce: code.nonce.as_deref(),
        sid: code.sid.as_deref(),
        amr: &amr,
    };
    TokenResponse::new(state, jwt, &claims, refresh_token, Some(sign_in)).await
}
