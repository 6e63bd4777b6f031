//! RFC 6749 §6: refreshing an access token, with rotation and reuse
//! detection (RFC 9700 §4.14.2).

use crate::app::issue::{sign_access_token, AccessTokenId, SignIn, TokenResponse};
use crate::app::AppState;
use crate::crypto::token_hash;
use crate::oauth::amr::Amr;
use crate::oauth::refresh::{decide, Decision, ReusePolicy};
use crate::oauth::scope::parse_scope;
use crate::oauth::wire::Form;
use crate::oauth::{ClientId, OAuthError};
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
use crate::store::models::refresh_token::{NewChild, RefreshFamily, RefreshToken, Rotation};
use crate::store::models::{Client, User};
use crate::store::Tx;

/// The outcome of one presentation, decided and written in one transaction.
enum Redeemed {
    /// A successor was issued; `scope` is what the access token gets.
    Issued {
        refresh_token: String,
        family: Box<RefreshFamily>,
        scope: String,
        /// The person the family belongs to (`None` for a client's own).
        user: Option<Box<User>>,
        /// RFC 8707: what the access token is for.
        resource: Vec<String>,
    },
    /// A spent token came back: its family is now revoked (committed).
    ReuseDetected,
}

/// RFC 6749 §6 with rotation: the old token is spent, the answer carries
/// its successor.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let access = AccessTokenId::new(state);
    let presented = Presentation {
        access: access.clone(),
        hash: token_hash(form.require("refresh_token")?),
        client_id: client.id.clone(),
        requested_scope: form.get("scope").map(str::to_string),
        client_scope: client.scope_list().iter().map(|s| s.to_string()).collect(),
        now: state.clock.now(),
        idle_ttl: state.config.refresh_idle_ttl,
        policy: ReusePolicy {
            grace: state.config.refresh_reuse_grace,
        },
        resources: super::ResourceRequest::new(state, client, form)?,
    };
    let redeemed = state
        .store
        .run(move |c| c.transaction(|c| redeem(c, &presented)))
        .await?;
    let (refresh_token, family, scope, user, resource) = match redeemed {
        Redeemed::Issued {
            refresh_token,
            family,
            scope,
            user,
            resource,
        } => (refresh_token, family, scope, user, resource),
        Redeemed::ReuseDetected => {
            tracing::warn!(client_id = %client.id, "refresh token reuse: family revoked");
            return Err(invalid_grant("the refresh token is invalid"));
        }
    };
    let access = access.for_resources(resource);
    let sub = family.user_id.as_deref().unwrap_or(&family.client_id);
    // OIDC Core §12.2: the sign-in's methods are kept on refresh. A family
    // started before they were kept rests on a password; a client's own
    // family on no sign-in.
    let amr = family
        .user_id
        .as_ref()
        .map(|_| Amr::from_text(family.amr.as_deref().unwrap_or("")));
    let (jwt, claims) = sign_access_token(
        state,
        access,
        sub,
        &client.id,
        &scope,
        family.auth_time,
        amr.as_ref(),
    )
    .await?;
    // OIDC Core §12.2: a new ID token with the original sign-in's
    // `auth_time` (and `sid`), no nonce. Families started before gatehouse
    // remembered the sign-in get none.
    let sign_in = match (&user, family.auth_time, &amr) {
        (Some(user), Some(auth_time), Some(amr)) => Some(SignIn {
            user,
            auth_time,
            nonce: None,
            sid: family.sid.as_deref(),
            amr,
        }),
        _ => None,
    };
    TokenResponse::new(state, jwt, &claims, Some(refresh_token), sign_in).await
}

fn invalid_grant(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.into())
}

/// One refresh request, as `redeem` needs it.
struct Presentation {
    /// The access token this refresh will issue, recorded on the new
    /// refresh token.
    access: AccessTokenId,
    hash: String,
    client_id: String,
    requested_scope: Option<String>,
    client_scope: Vec<String>,
    now: i64,
    idle_ttl: i64,
    policy: ReusePolicy,
    /// RFC 8707 §2.2: a refresh may narrow the resources, never widen.
    resources: super::ResourceRequest,
}

/// Looks the token up, decides, and writes the decision. Runs inside one
/// transaction; a refusal returns `Err` (nothing was written), while a
/// detected reuse returns `Ok` so that the family's revocation commits.
fn redeem(c: &mut Tx<'_>, p: &Presentation) -> Result<Redeemed, OAuthError> {
    // Locks the family until this transaction ends: concurrent refreshes,
    // grace replays and revocations of it run one after the other, so the
    // decision below holds while it is written. A revocation either sees
    // the successor written here (and deny-lists its access token) or is
    // seen by it.
    //
    // The common case in the same step (one statement on PostgreSQL):
    // spend the token if it is neither spent nor replaced, add its
    // successor, read the family's person. Single use: the UPDATE matches
    // only such a token, and under the family lock nobody else can spend
    // it. The rules then judge it as it was; a refusal returns `Err`, and
    // the rollback undoes the spend and the successor.
    let Some(rotated) = c.rotate_refresh_token(Rotation {
        hash: &p.hash,
        now: p.now,
        idle_ttl: p.idle_ttl,
        access: p.access.as_issued(),
    })?
    else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    let family = rotated.family;
    let decide_on = |token: &RefreshToken, successor_used: bool| {
        decide(
            &token.state(),
            &family.state(),
            ClientId(&p.client_id),
            p.now,
            successor_used,
            p.policy,
        )
    };
    if let Some(spent) = rotated.spent {
        match decide_on(&spent.token, false) {
            Decision::Rotate => {}
            Decision::Reject(why) => return Err(invalid_grant(why)),
            // Not for an unspent, unreplaced token.
            Decision::RevokeFamily | Decision::Grace => {
                return Err(invalid_grant("the refresh token is invalid"))
            }
        }
        return issued(p, family, &spent.token, spent.user, spent.successor);
    }
    // Spent, or replaced by a grace replay: read it (after the lock, so as
    // it is now) and decide.
    let Some((token, _)) = c.find_refresh_token(&p.hash)? else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    let successor_used = token.used_at.is_some() && c.refresh_successor_used(&p.hash)?;
    match decide_on(&token, successor_used) {
        Decision::Reject(why) => Err(invalid_grant(why)),
        Decision::RevokeFamily => reuse_detected(c, &family, p),
        Decision::Grace => {
            // Exactly one caller claims the grace; under the family lock it
            // always matches, and if it ever did not, someone else used the
            // token: reuse.
            if !c.claim_refresh_grace(&p.hash, p.now)? {
                return reuse_detected(c, &family, p);
            }
            // RFC 9700 §4.14.2: the grace is for a client that lost the
            // answer to its refresh, not for a second holder. The new pair
            // replaces the successor that answer carried: it is revoked and
            // its access token deny-listed, so the family keeps exactly one
            // live chain, and whoever presents the replaced token later
            // trips reuse.
            c.revoke_unused_successors(&p.hash, p.now)?;
            issue_successor(c, p, family, token)
        }
        // Unspent and unreplaced, yet the update missed it: someone else
        // used it. Reuse.
        Decision::Rotate => reuse_detected(c, &family, p),
    }
}

/// The rest of a grace replay whose token is spent in this transaction:
/// the person, the successor.
fn issue_successor(
    c: &mut Tx<'_>,
    p: &Presentation,
    family: RefreshFamily,
    token: RefreshToken,
) -> Result<Redeemed, OAuthError> {
    let user = match &family.user_id {
        Some(id) => c.find_user(id)?,
        None => None,
    };
    let refresh_token = c.insert_child_refresh_token(NewChild {
        family: &family,
        parent_hash: &p.hash,
        // §6: "the refresh token scope MUST be identical to that of the
        // refresh token included by the client in the request."
        scope: &token.scope,
        now: p.now,
        idle_ttl: p.idle_ttl,
        access: p.access.as_issued(),
    })?;
    issued(p, family, &token, user, refresh_token)
}

/// The rest of the rules for a successor written in this transaction
/// (with the presented token's scope, §6): the answer's scope, resources
/// and person. A refusal returns `Err`, and the rollback undoes the
/// successor.
fn issued(
    p: &Presentation,
    family: RefreshFamily,
    token: &RefreshToken,
    user: Option<User>,
    refresh_token: String,
) -> Result<Redeemed, OAuthError> {
    let scope = narrow_scope(p.requested_scope.as_deref(), &token.scope, &p.client_scope)?;
    let resource = p.resources.judge(family.resource.as_deref())?;
    let user = active_user(&family, user)?;
    Ok(Redeemed::Issued {
        refresh_token,
        family: Box::new(family),
        scope,
        user,
        resource,
    })
}

/// RFC 9700 §4.14.2: a spent (or replaced) token was presented again, so a
/// copy is in other hands. Revoke the family; the legitimate holder signs
/// in again.
/// The audit trail records it, in the same transaction: gatehouse acted,
/// on the family's person (or client), for the client that presented it.
fn reuse_detected(
    c: &mut Tx<'_>,
    family: &RefreshFamily,
    p: &Presentation,
) -> Result<Redeemed, OAuthError> {
    c.revoke_refresh_family(&family.id, p.now)?;
    let on = match &family.user_id {
        Some(u) => subject::person(u),
        None => subject::client(&family.client_id),
    };
    let event = NewAuditEvent::new(AuditType::RefreshTokenReused, actor::GATEHOUSE)
        .subject(on)
        .client(p.client_id.clone())
        .detail("family", family.id.clone());
    c.record_audit(p.now.saturating_mul(1000), &event)?;
    Ok(Redeemed::ReuseDetected)
}

/// RFC 6749 §6: "The requested scope MUST NOT include any scope not
/// originally granted by the resource owner, and if omitted is treated as
/// equal to the scope originally granted". Also capped by what the client
/// may have today.
fn narrow_scope(
    requested: Option<&str>,
    granted: &str,
    client_scope: &[String],
) -> Result<String, OAuthError> {
    let allowed: Vec<&str> = crate::store::models::split_list(granted)
        .filter(|s| client_scope.iter().any(|c| c == s))
        .collect();
    let wanted = parse_scope(requested.unwrap_or(""))?;
    if wanted.is_empty() {
        return Ok(allowed.join(" "));
    }
    if wanted.iter().any(|w| !allowed.contains(&w.as_str())) {
        return Err(OAuthError::InvalidScope(
            "scope asks for more than was originally granted".into(),
        ));
    }
    Ok(wanted.join(" "))
}

/// A disabled user keeps no access through old refresh tokens. Returns
/// the family's person (read in the transaction), for the ID token.
fn active_user(
    family: &RefreshFamily,
    user: Option<User>,
) -> Result<Option<Box<User>>, OAuthError> {
    if family.user_id.is_none() {
        return Ok(None);
    }
    match user {
        Some(user) if !user.disabled => Ok(Some(Box::new(user))),
        _ => Err(invalid_grant("the refresh token is invalid")),
    }
}
