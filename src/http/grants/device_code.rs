//! RFC 8628 §3.4–3.5: the device polls the token endpoint with its device
//! code until the user has decided.

use crate::app::issue::{sign_access_token, AccessTokenId, FamilyLifetimes, SignIn, TokenResponse};
use crate::app::AppState;
use crate::crypto::token_hash;
use crate::oauth::amr::Amr;
use crate::oauth::device::{invalid_code, judge_poll, PollState, PollVerdict};
use crate::oauth::wire::Form;
use crate::oauth::{ClientId, GrantType, OAuthError};
use crate::store::models::refresh_token::{FamilySignIn, NewFamily};
use crate::store::models::{Client, User};
use crate::store::Tx;

/// How often a poll re-reads the row after losing a race with another poll
/// of the same code.
const RACE_RETRIES: usize = 3;

/// What the transaction decided when tokens are due.
struct Approved {
    user: User,
    scope: String,
    refresh_token: Option<String>,
    /// The sign-in of the person who approved (none for codes approved
    /// before gatehouse recorded it).
    auth_time: Option<i64>,
    sid: Option<String>,
    /// How they signed in (a password for codes approved before it was
    /// kept).
    amr: Amr,
    /// RFC 8707: what the access token is for.
    resource: Vec<String>,
}

/// RFC 8628 §3.4: `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
/// The client was authenticated by the token endpoint already (§3.4: "If
/// the client was issued client credentials (or assigned other
/// authentication requirements), the client MUST authenticate with the
/// authorization server"); a public client sent its `client_id`.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let hash = token_hash(form.require("device_code")?);
    let client_id = client.id.clone();
    let refresh = client
        .has_grant(GrantType::RefreshToken)
        .then(|| FamilyLifetimes::new(state));
    let now = state.clock.now();
    let mut access = AccessTokenId::new(state);
    let id = access.clone();
    let resources = super::ResourceRequest::new(state, client, form)?;
    // The transaction commits whatever the verdict (a pending poll's time
    // must be saved too); the verdict is answered afterwards.
    let approved = state
        .store
        .run(move |c| c.transaction(|c| poll(c, &hash, &client_id, now, refresh, &id, &resources)))
        .await??;
    access.resource = approved.resource.clone();
    let (jwt, claims) = sign_access_token(
        state,
        access,
        &approved.user.id,
        &client.id,
        &approved.scope,
        approved.auth_time,
        Some(&approved.amr),
    )
    .await?;
    let sign_in = approved.auth_time.map(|auth_time| SignIn {
        user: &approved.user,
        auth_time,
        nonce: None,
        sid: approved.sid.as_deref(),
        amr: &approved.amr,
    });
    TokenResponse::new(state, jwt, &claims, approved.refresh_token, sign_in).await
}

/// One poll, inside one transaction: read the code, judge it, and save the
/// verdict with a conditional UPDATE. A poll that loses a race with another
/// re-reads and is judged again, so every instance answers the same.
/// The outer error rolls back; the inner one is the answer to a poll whose
/// state was saved.
fn poll(
    c: &mut Tx<'_>,
    hash: &str,
    client_id: &str,
    now: i64,
    refresh: Option<FamilyLifetimes>,
    access: &AccessTokenId,
    resources: &super::ResourceRequest,
) -> Result<Result<Approved, OAuthError>, OAuthError> {
    for _ in 0..RACE_RETRIES {
        let Some(code) = c.find_device_code(hash)? else {
            return Ok(Err(invalid_code()));
        };
        let seen = PollState {
            status: &code.status,
            client_id: ClientId(&code.client_id),
            expires_at: code.expires_at,
            last_poll_at: code.last_poll_at,
            poll_interval: code.poll_interval,
        };
        let verdict = match judge_poll(&seen, ClientId(client_id), now) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let saved = match verdict {
            // §3.5: tokens exactly once; the affected-row count decides.
            PollVerdict::Issue => c.spend_device_code(hash, now)?,
            PollVerdict::Pending => c.record_device_poll(&code, now, code.poll_interval)?,
            // §3.5 slow_down: "the interval MUST be increased by 5 seconds
            // for this and all subsequent requests" (persisted here).
            PollVerdict::SlowDown { interval } => c.record_device_poll(&code, now, interval)?,
        };
        if !saved {
            continue;
        }
        if let Some(e) = verdict.error() {
            return Ok(Err(e));
        }
        // RFC 8707 §2.2: the resources of the device authorization
        // request, or fewer. A refusal rolls back: the code stays unspent.
        let resource = resources.judge(code.resource.as_deref())?;
        let user_id = code
            .user_id
            .ok_or_else(|| OAuthError::Server("approved device code without a user".into()))?;
        // A user disabled since approving gets nothing (the code stays spent).
        let Some(user) = c.find_user(&user_id)?.filter(|u| !u.disabled) else {
            return Ok(Err(OAuthError::InvalidGrant(
                "the user who approved this device can no longer sign in".into(),
            )));
        };
        // Recorded, so withdrawing consent on /account deny-lists it.
        c.record_user_access_token(&access.jti, &user_id, client_id, access.exp)?;
        let refresh_token = match refresh {
            Some(lifetimes) => {
                let sign_in = code.auth_time.map(|auth_time| FamilySignIn {
                    auth_time,
                    sid: code.sid.as_deref(),
                    amr: code.amr.as_deref(),
                });
                Some(c.issue_signed_in_refresh_token(
                    NewFamily {
                        resource: code.resource.clone(),
                        ..lifetimes.family(client_id, &user_id, &code.scope, None, access)
                    },
                    sign_in,
                )?)
            }
            None => None,
        };
        return Ok(Ok(Approved {
            user,
            scope: code.scope,
            refresh_token,
            auth_time: code.auth_time,
            sid: code.sid,
            amr: Amr::from_text(code.amr.as_deref().unwrap_or("")),
            resource,
        }));
    }
    // Lost every race: other polls of this code are arriving right now.
    Ok(Err(OAuthError::SlowDown))
}
