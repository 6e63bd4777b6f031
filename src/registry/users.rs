//! Users: the accounts people sign in with. The rules for what a user
//! gives (username by `text`'s rules, e-mail address, password by NIST SP
//! 800-63B §5.1.1.2, display name) and creating, changing, disabling,
//! deleting a user and setting a new password, each in one transaction.

use super::{Registry, RegistryError};
use crate::store::models::account_token::Purpose;
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
use crate::store::models::factors::FactorsRemoved;
use crate::store::models::User;
use crate::store::{DbConn, StoreError, Tx};
use crate::text::{self, Username};
use std::collections::HashSet;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// At least this many characters in a new password (NIST SP 800-63B
/// §5.1.1.2: at least 8 for one the person chooses)...
pub const MIN_PASSWORD_LEN: usize = 8;
/// ...and at most this many (§5.1.1.2: at least 64 must be allowed).
/// Characters are Unicode scalar values of the NFKC form.
pub const MAX_PASSWORD_LEN: usize = 256;

/// The most common passwords, lower case (`common_passwords.txt`: its
/// head says where the list comes from).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Checks what a new user gives (CLI or the sign-up page); returns the
/// username as it will be stored, with its comparison keys (`text`'s
/// rules: RFC 8265 PRECIS, one script, no invisible characters). Field
/// errors name the form inputs.
pub fn check_new_user(
    username: &str,
    email: Option<&str>,
    password: &str,
) -> Result<Username, RegistryError> {
    let username = check_username(username)?;
    if let Some(e) = email {
        check_email(e)?;
    }
    check_new_password(password, &username.shown, email)?;
    Ok(username)
}

/// A username by `text`'s rules, or a field error on `username`.
pub fn check_username(username: &str) -> Result<Username, RegistryError> {
    text::username(username).map_err(|why| RegistryError::field("username", why))
}

/// An e-mail address: one `@` between a local part and a domain, no
/// spaces, at most 320 bytes.
fn check_email(e: &str) -> Result<(), RegistryError> {
    let parts = e.split_once('@');
    let plausible = e.len() <= 320
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && parts.is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if plausible {
        Ok(())
    } else {
        Err(RegistryError::field(
            "email",
            "an e-mail address looks like name@example.com",
        ))
    }
}

/// At most this many characters in a user's display name.
pub const MAX_DISPLAY_NAME: usize = 200;

/// A display name (OpenID Connect `name`) as it will be stored: trimmed;
/// empty means none. Printable characters only, at most
/// `MAX_DISPLAY_NAME`, without direction controls or invisible characters
/// (`text::shown_name_problem`).
pub fn check_display_name(name: &str) -> Result<Option<String>, RegistryError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Err(RegistryError::field(
            "name",
            format!("a display name is at most {MAX_DISPLAY_NAME} printable characters"),
        ));
    }
    if let Some(why) = text::shown_name_problem(name) {
        return Err(RegistryError::field("name", why));
    }
    Ok(Some(name.to_string()))
}

fn taken(username: &str) -> RegistryError {
    RegistryError::field(
        "username",
        format!("the username '{username}' is taken, or looks like one that is"),
    )
}

/// A taken username (the unique comparison keys) as the field error.
fn conflict_is_taken(username: &str) -> impl FnOnce(StoreError) -> RegistryError + '_ {
    move |e| match e {
        StoreError::Conflict(_) => taken(username),
        other => other.into(),
    }
}

/// The user with this id or, failing that, this username.
fn find(conn: &mut DbConn, id_or_username: &str) -> Result<User, RegistryError> {
    if let Some(u) = conn.find_user(id_or_username)? {
        return Ok(u);
    }
    conn.find_user_by_username(id_or_username)?
        .ok_or_else(|| RegistryError::NotFound(format!("no user '{id_or_username}'")))
}

/// Ends a user's browser sessions, revokes their refresh token families
/// and deny-lists their live access tokens.
fn end_everything_of(c: &mut Tx<'_>, user_id: &str, now: i64) -> Result<(), RegistryError> {
    end_sign_ins(c, user_id, None, now)
}

/// Ends what rode on a user's old password: their browser sessions but
/// `keep_session` (the plain cookie value of the browser that made the
/// change, if it stays signed in), their refresh token families, their
/// live access tokens, and their unused password-reset links.
pub fn end_sign_ins(
    c: &mut Tx<'_>,
    user_id: &str,
    keep_session: Option<&str>,
    now: i64,
) -> Result<(), RegistryError> {
    match keep_session {
        None => {
            c.delete_user_sessions(user_id)?;
        }
        Some(plain) => {
            c.delete_other_sessions(user_id, plain)?;
        }
    }
    c.revoke_families_for_user(user_id, now)?;
    c.deny_user_access_tokens(user_id, None, now)?;
    c.void_account_tokens(user_id, Purpose::ResetPassword)?;
    Ok(())
}

/// A password as it is hashed and checked: its NFKC normal form (NIST SP
/// 800-63B §5.1.1.2: Unicode in a password is normalised before hashing),
/// so the same password typed on another keyboard or input method (a
/// composed or decomposed accent, a full-width letter) is the same.
pub fn normalize_password(password: &str) -> String {
    password.nfkc().collect()
}

/// How passwords, usernames and addresses are compared for the rules:
/// NFKC, then lower case.
fn fold(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

/// Checks a new password (sign-up, the CLI, a reset, a change) against
/// the password rules, given the account's username and e-mail address;
/// returns the password as it is hashed (`normalize_password`).
///
/// NIST SP 800-63B §5.1.1.2: at least `MIN_PASSWORD_LEN` and at most
/// `MAX_PASSWORD_LEN` characters of any kind (counted after
/// normalisation), not one of the most common passwords, not the
/// username or the e-mail address (or its part before the `@`), compared
/// without regard to case. No rules about which kinds of characters it
/// must have, and no expiry. Errors are on the `password` field.
pub fn check_new_password(
    password: &str,
    username: &str,
    email: Option<&str>,
) -> Result<String, RegistryError> {
    // Far too long whatever its normal form (NFKC composes at most a few
    // characters into one): refused before normalising a large input.
    if password.chars().count() > 4 * MAX_PASSWORD_LEN {
        return Err(RegistryError::field(
            "password",
            format!("the password is too long: use at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    let normalized = normalize_password(password);
    let len = normalized.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(RegistryError::field(
            "password",
            format!("the password is too short: use at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(RegistryError::field(
            "password",
            format!("the password is too long: use at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    let folded = normalized.to_lowercase();
    if COMMON_PASSWORDS.contains(folded.as_str()) {
        return Err(RegistryError::field(
            "password",
            "that password is one of the most common ones, so it is among the first \
             anyone guesses: choose another (a few unrelated words make a good one)",
        ));
    }
    if !username.is_empty() && folded == fold(username) {
        return Err(RegistryError::field(
            "password",
            "the password must not be your username",
        ));
    }
    if let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) {
        let local = email.rsplit_once('@').map_or(email, |(l, _)| l);
        if folded == fold(email) || (!local.is_empty() && folded == fold(local)) {
            return Err(RegistryError::field(
                "password",
                "the password must not be your e-mail address",
            ));
        }
    }
    Ok(normalized)
}

/// A new user, as the CLI (`gatehouse user create`) or the sign-up page
/// gives it.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    /// The display name (OpenID Connect `name`).
    pub name: Option<String>,
    pub password: String,
    /// An admin sees and manages every app on the application pages.
    pub admin: bool,
}

/// A change to a user: `None` leaves a field as it is. An empty `name` or
/// `email` removes it. A new e-mail address is unverified unless
/// `email_verified` says otherwise. A new `username` follows a new user's
/// rules (sessions and tokens stay). `admin` is the operator's alone
/// (`gatehouse user update --admin|--no-admin`); no page sets it.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// An admin sees and manages every app on the application pages.
    pub admin: Option<bool>,
}

impl UserChange {
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.name.is_none()
            && self.email.is_none()
            && self.email_verified.is_none()
            && self.admin.is_none()
    }
}

impl Registry<'_> {
    /// Creates a user. A username that is taken, or is the same as or
    /// looks like a taken one (the unique comparison keys), is a field
    /// error on `username`, found before the password is hashed; one taken
    /// in the meantime is refused by the insert. One transaction: every
    /// row's keys are filled in first (`fill_username_keys`), so rows from
    /// before the keys count too.
    pub async fn create_user(&self, new: NewUser) -> Result<User, RegistryError> {
        let username = check_new_user(&new.username, new.email.as_deref(), &new.password)?;
        let name = new
            .name
            .as_deref()
            .map(check_display_name)
            .transpose()?
            .flatten();
        let lookup = username.clone();
        if self.store.run(move |c| c.username_taken(&lookup)).await? {
            return Err(taken(&username.shown));
        }
        // Checked by `check_new_user`; hashed in its normal form.
        let hash = self.hash(normalize_password(&new.password)).await?;
        let now = self.clock.now();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.shown,
            email: new.email,
            password_hash: hash,
            is_admin: new.admin,
            disabled: false,
            created_at: now,
            updated_at: now,
            name,
            email_verified: false,
            username_key: Some(username.key),
            username_skeleton: Some(username.skeleton),
        };
        let row = user.clone();
        // A person signing themselves up is the actor of their own sign-up.
        let audit = match self.audit(AuditType::UserCreated) {
            Some(e) if e.actor == actor::ANONYMOUS => Some(NewAuditEvent {
                kind: AuditType::SignUp,
                actor: actor::person(&user.id),
                ..e
            }),
            other => other,
        };
        let at_ms = self.clock.now_millis();
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    c.fill_username_keys()?;
                    c.insert_user(&row)
                        .map_err(conflict_is_taken(&row.username))?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::person(&row.id))
                            .detail("admin", row.is_admin)
                    })?;
                    Ok::<_, RegistryError>(())
                })
            })
            .await?;
        Ok(user)
    }

    /// The user with this id or, failing that, this username.
    pub async fn find_user(&self, id_or_username: &str) -> Result<User, RegistryError> {
        let key = id_or_username.to_string();
        self.store.run(move |c| find(c, &key)).await
    }

    /// Changes a user's username, display name, e-mail address or whether
    /// it is verified, or whether they are an admin (`gatehouse user
    /// update`, the display name on `/account`), in one transaction. A
    /// verified flag without an address is refused; so is a username that
    /// is taken or looks like one that is. Taking the last admin's right
    /// away is allowed (the operator keeps the CLI); `active_admins` tells
    /// the CLI to warn.
    pub async fn update_user(
        &self,
        id_or_username: &str,
        change: UserChange,
    ) -> Result<User, RegistryError> {
        let name = change.name.as_deref().map(check_display_name).transpose()?;
        let username = change.username.as_deref().map(check_username).transpose()?;
        let email = match change.email.as_deref().map(str::trim) {
            Some("") => Some(None),
            Some(e) => {
                check_email(e)?;
                Some(Some(e.to_string()))
            }
            None => None,
        };
        let (key, now) = (id_or_username.to_string(), self.clock.now());
        let (audit, at_ms) = (self.audit(AuditType::UserUpdated), self.clock.now_millis());
        let changed: Vec<&'static str> = [
            ("username", change.username.is_some()),
            ("name", change.name.is_some()),
            ("email", change.email.is_some()),
            ("email_verified", change.email_verified.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect();
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let mut user = find(c, &key)?;
                    if !changed.is_empty() {
                        super::record(c, at_ms, &audit, |e| {
                            e.subject(subject::person(&user.id))
                                .detail("fields", changed.clone())
                        })?;
                    }
                    if let Some(new) = username {
                        // Every row's keys first, so rows from before them
                        // count too.
                        c.fill_username_keys()?;
                        c.rename_user(&user.id, &new, now)
                            .map_err(conflict_is_taken(&new.shown))?;
                        user.username = new.shown;
                        user.username_key = Some(new.key);
                        user.username_skeleton = Some(new.skeleton);
                    }
                    if let Some(name) = name {
                        user.name = name;
                    }
                    if let Some(email) = email {
                        if email != user.email {
                            user.email_verified = false;
                        }
                        user.email = email;
                    }
                    if let Some(v) = change.email_verified {
                        user.email_verified = v;
                    }
                    if user.email.is_none() && user.email_verified {
                        return Err(RegistryError::field(
                            "email_verified",
                            "there is no e-mail address to verify",
                        ));
                    }
                    user.updated_at = now;
                    c.update_user_profile(&user)?;
                    if let Some(admin) = change.admin.filter(|a| *a != user.is_admin) {
                        c.set_user_admin(&user.id, admin, now)?;
                        user.is_admin = admin;
                        let kind = if admin {
                            AuditType::AdminGranted
                        } else {
                            AuditType::AdminRevoked
                        };
                        let granted = audit.clone().map(|e| NewAuditEvent { kind, ..e });
                        super::record(c, at_ms, &granted, |e| {
                            e.subject(subject::person(&user.id))
                        })?;
                    }
                    Ok(user)
                })
            })
            .await
    }

    /// How many admins can sign in (admins who are not disabled).
    pub async fn active_admins(&self) -> Result<i64, RegistryError> {
        self.store
            .run(|c| c.count_active_admins().map_err(RegistryError::from))
            .await
    }

    /// Disables (or enables) a user. Disabling ends their sessions,
    /// revokes their refresh token families and deny-lists their live
    /// access tokens, in one transaction.
    pub async fn set_user_disabled(
        &self,
        id_or_username: &str,
        disabled: bool,
    ) -> Result<User, RegistryError> {
        let (key, now) = (id_or_username.to_string(), self.clock.now());
        let audit = self.audit(if disabled {
            AuditType::UserDisabled
        } else {
            AuditType::UserEnabled
        });
        let at_ms = self.clock.now_millis();
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let user = find(c, &key)?;
                    c.set_user_disabled(&user.id, disabled, now)?;
                    super::record(c, at_ms, &audit, |e| e.subject(subject::person(&user.id)))?;
                    if disabled {
                        end_everything_of(c, &user.id, now)?;
                    }
                    Ok(User { disabled, ..user })
                })
            })
            .await
    }

    /// Deletes a user: their sessions, consents, codes and refresh tokens
    /// go with them, their live access tokens are deny-listed, and the apps
    /// they registered pass to the operator; one transaction.
    pub async fn delete_user(&self, id_or_username: &str) -> Result<User, RegistryError> {
        let (key, now) = (id_or_username.to_string(), self.clock.now());
        let (audit, at_ms) = (self.audit(AuditType::UserDeleted), self.clock.now_millis());
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let user = find(c, &key)?;
                    end_everything_of(c, &user.id, now)?;
                    c.disown_clients(&user.id)?;
                    c.delete_user(&user.id)?;
                    // The username, since the id alone names nobody any more.
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::person(&user.id))
                            .detail("username", user.username.clone())
                    })?;
                    Ok(user)
                })
            })
            .await
    }

    /// Sets a new password (the operator's `user set-password`) and ends
    /// everything that rode on the old one (`end_sign_ins`).
    pub async fn set_user_password(
        &self,
        id_or_username: &str,
        password: &str,
    ) -> Result<User, RegistryError> {
        let user = self.find_user(id_or_username).await?;
        self.replace_password(&user, password, None, AuditType::PasswordSet, |_| Ok(()))
            .await
    }

    /// Replaces `user`'s password, in one transaction with `also` (which
    /// may refuse, e.g. a reset link spent meanwhile: then nothing
    /// changes), and ends every sign-in but `keep_session` (`end_sign_ins`).
    /// The audit trail says how (`kind`: `PasswordChanged` by the person,
    /// `PasswordReset` by a link, `PasswordSet` by an operator).
    pub async fn replace_password<F>(
        &self,
        user: &User,
        new_password: &str,
        keep_session: Option<String>,
        kind: AuditType,
        also: F,
    ) -> Result<User, RegistryError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<(), RegistryError> + Send + 'static,
    {
        let password = check_new_password(new_password, &user.username, user.email.as_deref())?;
        let hash = self.hash(password).await?;
        let (id, now) = (user.id.clone(), self.clock.now());
        let (audit, at_ms) = (self.audit(kind), self.clock.now_millis());
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let user = find(c, &id)?;
                    also(c)?;
                    c.set_user_password_hash(&user.id, &hash, now)?;
                    end_sign_ins(c, &user.id, keep_session.as_deref(), now)?;
                    super::record(c, at_ms, &audit, |e| e.subject(subject::person(&user.id)))?;
                    Ok(user)
                })
            })
            .await
    }

    /// Removes every second factor of `user` (their authenticator app,
    /// recovery codes and passkeys: `gatehouse user reset-factors`) and
    /// ends every sign-in (`end_sign_ins`: sessions, refresh families,
    /// access tokens), in one transaction with `also` (the notice mail).
    pub async fn reset_factors<F>(
        &self,
        user: &User,
        also: F,
    ) -> Result<FactorsRemoved, RegistryError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<(), RegistryError> + Send + 'static,
    {
        let (id, now) = (user.id.clone(), self.clock.now());
        let (audit, at_ms) = (self.audit(AuditType::FactorsReset), self.clock.now_millis());
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let user = find(c, &id)?;
                    let removed = c.delete_user_factors(&user.id)?;
                    super::record(c, at_ms, &audit, |e| e.subject(subject::person(&user.id)))?;
                    end_sign_ins(c, &user.id, None, now)?;
                    also(c)?;
                    Ok(removed)
                })
            })
            .await
    }

    /// Signs `user` out of every browser (an admin's "sign out
    /// everywhere"): their sessions end, in one transaction with the
    /// audit event; their apps' tokens are left as they are. How many
    /// there were.
    pub async fn end_sessions(&self, user: &User) -> Result<usize, RegistryError> {
        let id = user.id.clone();
        let (audit, at_ms) = (
            self.audit(AuditType::SessionsEnded),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let user = find(c, &id)?;
                    let n = c.delete_user_sessions(&user.id)?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::person(&user.id)).detail("sessions", n)
                    })?;
                    Ok(n)
                })
            })
            .await
    }

    /// Users whose usernames collide (`collision_groups`), after every
    /// row's comparison keys are filled in.
    pub async fn username_collisions(&self) -> Result<Vec<Vec<User>>, RegistryError> {
        let users = self
            .store
            .run(move |c| {
                c.transaction(|c| c.fill_username_keys())?;
                c.list_users()
            })
            .await?;
        Ok(collision_groups(users))
    }
}

/// Users whose usernames are the same, or look the same, by today's rules
/// (`text::fold_username`, `text::username_skeleton`): rows from before
/// the rules, or written by an older gatehouse. Each group has two or more
/// users, oldest first; the oldest holds the comparison keys (once
/// `fill_username_keys` has run), the others sign in only by their exact
/// username until renamed or deleted.
fn collision_groups(mut users: Vec<User>) -> Vec<Vec<User>> {
    users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    // Union-find over the users, joined by an equal key or skeleton.
    let mut parent: Vec<usize> = (0..users.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, u) in users.iter().enumerate() {
        let forms = [
            format!("k:{}", text::fold_username(&u.username)),
            format!("s:{}", text::username_skeleton(&u.username)),
        ];
        for form in forms {
            match seen.get(&form) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    seen.insert(form, i);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<User>> = Default::default();
    for (i, u) in users.into_iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(u);
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_core_5_1_display_names_are_trimmed_printable_and_bounded() {
        assert_eq!(
            check_display_name("  Alice Liddell ").unwrap().as_deref(),
            Some("Alice Liddell")
        );
        assert_eq!(check_display_name("   ").unwrap(), None, "empty: none");
        assert!(check_display_name("a\u{7}b").is_err());
        assert!(check_display_name(&"é".repeat(MAX_DISPLAY_NAME)).is_ok());
        let e = check_display_name(&"x".repeat(MAX_DISPLAY_NAME + 1)).unwrap_err();
        assert_eq!(e.field_name(), Some("name"));
    }

    fn refused(password: &str) -> String {
        match check_new_password(password, "alice", Some("Alice.Liddell@example.com")) {
            Err(e) => {
                assert_eq!(e.field_name(), Some("password"), "{password:?}");
                e.to_string()
            }
            Ok(_) => panic!("{password:?} was accepted"),
        }
    }

    #[test]
    fn nist_800_63b_5_1_1_2_length_is_8_to_256_characters_after_normalisation() {
        assert!(refused("seven77").contains("at least 8"));
        assert!(check_new_password("ate kiwi", "alice", None).is_ok());
        // 256 characters of any kind, four bytes each: allowed.
        assert!(check_new_password(&"😀".repeat(MAX_PASSWORD_LEN), "alice", None).is_ok());
        assert!(refused(&"x".repeat(MAX_PASSWORD_LEN + 1)).contains("at most 256"));
        // Counted in the normal form: "e" and a combining acute accent is one
        // character, so 7 of them are too short.
        assert!(refused(&"e\u{301}".repeat(7)).contains("at least 8"));
    }

    #[test]
    fn nist_800_63b_5_1_1_2_unicode_is_allowed_and_normalised_with_nfkc() {
        let composed = check_new_password("caf\u{e9} au lait", "alice", None).unwrap();
        let decomposed = check_new_password("cafe\u{301} au lait", "alice", None).unwrap();
        assert_eq!(
            composed, decomposed,
            "canonically equivalent forms hash alike"
        );
        // Compatibility forms too: full-width letters are the ASCII ones.
        assert_eq!(
            check_new_password("ｓｅｃｒｅｔ ｈｏｒｓｅ", "alice", None).unwrap(),
            "secret horse"
        );
        assert_eq!(normalize_password("Ω"), "Ω", "U+2126 OHM SIGN is U+03A9");
        // Spaces and symbols are fine; no composition rules.
        assert!(check_new_password("correct horse battery staple", "alice", None).is_ok());
        assert!(check_new_password("ünïcödé pässwörd 密码", "alice", None).is_ok());
        assert!(check_new_password("lowercaseonlyletters", "alice", None).is_ok());
    }

    #[test]
    fn nist_800_63b_5_1_1_2_common_passwords_are_refused_whatever_their_case() {
        for p in [
            "password",
            "12345678",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
            "trustno1",
        ] {
            assert!(refused(p).contains("most common"), "{p}");
        }
        // The list loaded whole: it has thousands of entries of 8 or more.
        assert!(COMMON_PASSWORDS.len() > 10_000);
        assert!(COMMON_PASSWORDS
            .iter()
            .all(|p| p.chars().count() >= MIN_PASSWORD_LEN));
        // Full-width "password" is the common one after NFKC.
        assert!(refused("ｐａｓｓｗｏｒｄ").contains("most common"));
    }

    #[test]
    fn nist_800_63b_5_1_1_2_the_username_or_email_address_is_refused() {
        let user = |p: &str, u: &str| check_new_password(p, u, Some("carol@example.com"));
        assert!(user("BobTheBuilder", "bobthebuilder").is_err());
        assert!(user("bobthebuilder", "BobTheBuilder")
            .unwrap_err()
            .to_string()
            .contains("username"));
        assert!(refused("alice.liddell@example.com").contains("e-mail address"));
        assert!(
            refused("ALICE.LIDDELL").contains("e-mail address"),
            "the local part"
        );
        // Containing them is fine.
        assert!(check_new_password(
            "alice.liddell forever",
            "alice",
            Some("alice.liddell@example.com")
        )
        .is_ok());
    }

    #[test]
    fn check_new_user_applies_the_password_rules_with_its_username() {
        let e = check_new_user("eveline42", Some("eve@example.com"), "EVELINE42").unwrap_err();
        assert_eq!(e.field_name(), Some("password"));
        let e = check_new_user("eveline42", None, "football").unwrap_err();
        assert_eq!(e.field_name(), Some("password"));
        assert!(check_new_user("eveline42", None, "a quiet walk at dusk").is_ok());
    }
}
