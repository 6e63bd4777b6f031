use crate::store::dispatch;
use crate::store::schema::{browser_sessions, users};
use crate::store::{DbConn, StoreError, StoreResult};
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
}

impl DbConn {
    pub fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(users::table).values(user).execute(c))
            .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(())
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

    pub fn find_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        Ok(dispatch!(self, c => users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Everyone, by username.
    pub fn list_users(&mut self) -> StoreResult<Vec<User>> {
        Ok(dispatch!(self, c => users::table
            .order(users::username.asc())
            .select(User::as_select())
            .load(c))?)
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
}
