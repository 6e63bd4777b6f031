//! Second factors as the policy and claims tests need them, set up in the
//! store directly: these tests judge what having a factor, or having used
//! one, leads to (the step-up, enrolment, the tokens' `amr` and `acr`),
//! not the factor itself.

use super::TestApp;
use diesel::RunQueryDsl;
use gatehouse::store::DbConn;

fn exec(app: &TestApp, sql: &str) {
    let mut pooled = app.state.store.conn().unwrap();
    let conn: &mut DbConn = &mut pooled;
    db!(conn, c => diesel::sql_query(sql).execute(c)).unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Gives the person `user_id` a confirmed authenticator app (its sealed
/// secret is a placeholder: no code is ever checked against it here).
pub fn give_factor(app: &TestApp, user_id: &str) {
    exec(
        app,
        &format!(
            "INSERT INTO totp_factors (user_id, secret_sealed, created_at, confirmed_at) \
             VALUES ('{user_id}', 'placeholder', 0, 0)"
        ),
    );
}

/// Records that the sessions of `user_id` were signed in with a password
/// and an authenticator app (what the second step's `pending::finish`
/// stores).
pub fn sessions_used_second_factor(app: &TestApp, user_id: &str) {
    exec(
        app,
        &format!("UPDATE browser_sessions SET amr = 'pwd otp mfa' WHERE user_id = '{user_id}'"),
    );
}
