use crate::store::dispatch;
use crate::store::schema::{browser_sessions, users};
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use crate::text::{fold_username, username_key, username_skeleton, Username};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The display name (OIDC Core §5.1 `name`), when the person has one.
    pub name: Option<String>,
    /// Whether `email` is known to belong to the person (§5.1
    /// `email_verified`); set by the operator.
    pub email_verified: bool,
    /// The username as compared (RFC 8265 §3.3, `text::Username::key`);
    /// unique. `None` on a row from before the key existed (until
    /// `fill_username_keys`), or whose name is the same as an older row's.
    pub username_key: Option<String>,
    /// What the username looks like (`text::username_skeleton`); unique.
    /// `None` like `username_key`, or when an older row looks the same.
    pub username_skeleton: Option<String>,
}

/// A row whose comparison keys are not both set.
#[derive(Debug, Queryable)]
pub struct UnkeyedUser {
    pub id: String,
    pub username: String,
    pub username_key: Option<String>,
    pub username_skeleton: Option<String>,
}

diesel::define_sql_function! {
    /// SQL `lower()` of a text that is never NULL.
    #[sql_name = "lower"]
    fn search_lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` of a text that may be NULL.
    #[sql_name = "lower"]
    fn search_lower_opt(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

#[derive(Clone, Copy)]
enum KeyColumn {
    Key,
    Skeleton,
}

/// Whether a statement failed on a unique index.
fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl DbConn {
    /// How many admins can sign in (not disabled).
    pub fn count_active_admins(&mut self) -> StoreResult<i64> {
        Ok(dispatch!(self, c => users::table
            .filter(users::is_admin.eq(true))
            .filter(users::disabled.eq(false))
            .count()
            .get_result::<i64>(c))?)
    }

    pub fn find_user(&mut self, id: &str) -> StoreResult<Option<User>> {
        Ok(dispatch!(self, c => users::table
            .find(id)
            .select(User::as_select())
            .get_result(c)
            .optional())?)
    }

    /// The user exists and is not disabled.
    pub fn user_is_active(&mut self, user_id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => users::table
            .find(user_id)
            .filter(users::disabled.eq(false))
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }

    /// The person who signs in with `username`: the one whose stored
    /// username is exactly that, or else the one whose comparison key is
    /// that name's (RFC 8265 §3.3: `ALICE` and `ａｌｉｃｅ` are `alice`).
    pub fn find_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        let exact = dispatch!(self, c => users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .get_result(c)
            .optional())?;
        if exact.is_some() {
            return Ok(exact);
        }
        let Some(key) = username_key(username) else {
            return Ok(None);
        };
        Ok(dispatch!(self, c => users::table
            .filter(users::username_key.eq(&key))
            .select(User::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Whether a person has this username, or one that is the same (its
    /// key) or looks the same (its skeleton). A first check before the
    /// password is hashed; the unique indexes decide at the insert.
    pub fn username_taken(&mut self, name: &Username) -> StoreResult<bool> {
        let n = dispatch!(self, c => users::table
            .filter(
                users::username
                    .eq(&name.shown)
                    .or(users::username_key.eq(&name.key))
                    .or(users::username_skeleton.eq(&name.skeleton)),
            )
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }

    /// People left without a comparison key by `fill_username_keys`:
    /// their names collide with an older person's.
    pub fn count_unkeyed_users(&mut self) -> StoreResult<i64> {
        Ok(dispatch!(self, c => users::table
            .filter(
                users::username_key
                    .is_null()
                    .or(users::username_skeleton.is_null()),
            )
            .count()
            .get_result::<i64>(c))?)
    }

    /// One page of people whose username or e-mail address contains
    /// `query` (ASCII letters in either case; empty: everyone), by
    /// username, and how many match in all: the admin console's people
    /// list.
    pub fn search_users(
        &mut self,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<User>, i64)> {
        // `%`, `_` and the escape itself are matched as typed.
        let escaped: String = query
            .to_ascii_lowercase()
            .chars()
            .flat_map(|ch| match ch {
                '%' | '_' | '\\' => vec!['\\', ch],
                other => vec![other],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let matching = |p: &String| {
            search_lower(users::username)
                .like(p.clone())
                .escape('\\')
                .or(search_lower_opt(users::email)
                    .like(p.clone())
                    .escape('\\')
                    .assume_not_null())
        };
        let total = dispatch!(self, c => users::table
            .filter(matching(&pattern))
            .count()
            .get_result::<i64>(c))?;
        let rows = dispatch!(self, c => users::table
            .filter(matching(&pattern))
            .order((users::username.asc(), users::id.asc()))
            .offset(offset.max(0))
            .limit(limit)
            .select(User::as_select())
            .load(c))?;
        Ok((rows, total))
    }

    /// How many people have an account.
    pub fn count_users(&mut self) -> StoreResult<i64> {
        Ok(dispatch!(self, c => users::table.count().get_result::<i64>(c))?)
    }

    /// The usernames of those of `ids` who exist, by id, in one query.
    pub fn usernames(&mut self, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        Ok(dispatch!(self, c => users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::username))
            .load(c))?)
    }

    /// Everyone, by username.
    pub fn list_users(&mut self) -> StoreResult<Vec<User>> {
        Ok(dispatch!(self, c => users::table
            .order(users::username.asc())
            .select(User::as_select())
            .load(c))?)
    }
}

impl Tx<'_> {
    pub fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(users::table).values(user).execute(c))
            .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(())
    }

    /// Gives every row without comparison keys its keys, oldest first, each
    /// key only where no other row holds it: rows stored before the keys
    /// existed, or by an older gatehouse, and rows whose keys were taken
    /// (they stay `None`, and sign in by their exact name). A name that
    /// breaks today's rules gets `text::fold_username` as its key, so a new
    /// name cannot be the same as it either. Run inside the transaction
    /// that then stores or renames a person, so its unique indexes see
    /// every row. Each key is set under a savepoint: one taken meanwhile by
    /// another transaction is skipped, not an error. Returns the keys set.
    pub fn fill_username_keys(&mut self) -> StoreResult<usize> {
        let rows: Vec<UnkeyedUser> = dispatch!(self, c => users::table
            .filter(
                users::username_key
                    .is_null()
                    .or(users::username_skeleton.is_null()),
            )
            .order((users::created_at.asc(), users::id.asc()))
            .select((
                users::id,
                users::username,
                users::username_key,
                users::username_skeleton,
            ))
            .load(c))?;
        let mut set = 0;
        for row in rows {
            if row.username_key.is_none() {
                let key = fold_username(&row.username);
                set += usize::from(self.set_key_if_free(&row.id, KeyColumn::Key, &key)?);
            }
            if row.username_skeleton.is_none() {
                let skeleton = username_skeleton(&row.username);
                set +=
                    usize::from(self.set_key_if_free(&row.id, KeyColumn::Skeleton, &skeleton)?);
            }
        }
        Ok(set)
    }

    /// Sets one key of one row where it is NULL, unless another row has
    /// that value (a unique violation, undone by the savepoint).
    fn set_key_if_free(&mut self, id: &str, column: KeyColumn, value: &str) -> StoreResult<bool> {
        self.execute_raw("SAVEPOINT username_key")?;
        let updated = match column {
            KeyColumn::Key => dispatch!(self, c => diesel::update(
                users::table.find(id).filter(users::username_key.is_null())
            )
            .set(users::username_key.eq(value))
            .execute(c)),
            KeyColumn::Skeleton => dispatch!(self, c => diesel::update(
                users::table.find(id).filter(users::username_skeleton.is_null())
            )
            .set(users::username_skeleton.eq(value))
            .execute(c)),
        };
        match updated {
            Ok(n) => {
                self.execute_raw("RELEASE SAVEPOINT username_key")?;
                Ok(n == 1)
            }
            Err(e) => {
                self.execute_raw("ROLLBACK TO SAVEPOINT username_key")?;
                self.execute_raw("RELEASE SAVEPOINT username_key")?;
                if is_unique_violation(&e) {
                    Ok(false)
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// Gives a person another username, with its keys; a name that is, or
    /// looks, the same as another person's is `Conflict`.
    pub fn rename_user(&mut self, id: &str, name: &Username, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(id))
            .set((
                users::username.eq(&name.shown),
                users::username_key.eq(&name.key),
                users::username_skeleton.eq(&name.skeleton),
                users::updated_at.eq(now),
            ))
            .execute(c))
        .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(n == 1)
    }

    pub fn set_user_disabled(&mut self, id: &str, disabled: bool, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(id))
            .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Saves the profile fields of `user` (display name, e-mail address
    /// and whether it is verified) and its `updated_at`.
    pub fn update_user_profile(&mut self, user: &User) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(&user.id))
            .set((
                users::name.eq(&user.name),
                users::email.eq(&user.email),
                users::email_verified.eq(user.email_verified),
                users::updated_at.eq(user.updated_at),
            ))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Makes the person an admin, or no longer one.
    pub fn set_user_admin(&mut self, id: &str, admin: bool, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(id))
            .set((users::is_admin.eq(admin), users::updated_at.eq(now)))
            .execute(c))?;
        Ok(n == 1)
    }

    pub fn set_user_password_hash(&mut self, id: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Deletes the person and, through foreign keys, their sessions,
    /// codes, refresh token families and consents.
    pub fn delete_user(&mut self, id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(users::table.find(id)).execute(c))?;
        Ok(n == 1)
    }

    /// Ends every browser session of the person.
    pub fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<usize> {
        Ok(dispatch!(self, c => diesel::delete(
            browser_sessions::table.filter(browser_sessions::user_id.eq(user_id))
        )
        .execute(c))?)
    }

    /// Ends every browser session of the person but one (the plain cookie
    /// value `keep`).
    pub fn delete_other_sessions(&mut self, user_id: &str, keep: &str) -> StoreResult<usize> {
        let keep = crate::crypto::token_hash(keep);
        Ok(dispatch!(self, c => diesel::delete(
            browser_sessions::table
                .filter(browser_sessions::user_id.eq(user_id))
                .filter(browser_sessions::id_hash.ne(&keep))
        )
        .execute(c))?)
    }
}
