//! Table definitions shared by both backends. Every column type here maps the
//! same way on SQLite and PostgreSQL: times are Unix seconds (`BigInt`), lists
//! are space-separated `Text`.

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Text>,
        name -> Text,
        website -> Nullable<Text>,
        redirect_uris -> Text,
        grant_types -> Text,
        scope -> Text,
        is_public -> Bool,
        auth_method -> Text,
        can_introspect -> Bool,
        owner -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        logo_uri -> Nullable<Text>,
        contacts -> Text,
        registration_token_hash -> Nullable<Text>,
        post_logout_redirect_uris -> Text,
        resources -> Text,
        application_type -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        is_admin -> Bool,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        name -> Nullable<Text>,
        email_verified -> Bool,
        username_key -> Nullable<Text>,
        username_skeleton -> Nullable<Text>,
    }
}

diesel::table! {
    browser_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        last_seen_at -> BigInt,
        idle_expires_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Nullable<Text>,
        scope -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        nonce -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        issued_jti -> Nullable<Text>,
        issued_jti_expires_at -> Nullable<BigInt>,
        sid -> Nullable<Text>,
        amr -> Nullable<Text>,
        resource -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_families (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scope -> Text,
        auth_code_hash -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        auth_time -> Nullable<BigInt>,
        sid -> Nullable<Text>,
        amr -> Nullable<Text>,
        resource -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        parent_hash -> Nullable<Text>,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        grace_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    device_codes (device_code_hash) {
        device_code_hash -> Text,
        user_code -> Text,
        client_id -> Text,
        scope -> Text,
        status -> Text,
        user_id -> Nullable<Text>,
        poll_interval -> BigInt,
        last_poll_at -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        auth_time -> Nullable<BigInt>,
        sid -> Nullable<Text>,
        amr -> Nullable<Text>,
        resource -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        not_after -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    user_access_tokens (jti) {
        jti -> Text,
        user_id -> Text,
        client_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sign_in_throttle (throttle_key) {
        throttle_key -> Text,
        failures -> BigInt,
        last_failure_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        locked_until_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    registration_tokens (token_hash) {
        token_hash -> Text,
        uses_left -> BigInt,
        expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        sent_at -> Nullable<BigInt>,
        given_up_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<Text>,
        kind -> Text,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at_ms -> BigInt,
        #[sql_name = "type"]
        kind -> Text,
        actor -> Text,
        subject -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
    }
}

diesel::joinable!(browser_sessions -> users (user_id));
diesel::joinable!(totp_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    clients,
    users,
    browser_sessions,
    authorization_codes,
    refresh_families,
    refresh_tokens,
    device_codes,
    consents,
    signing_keys,
    revoked_access_tokens,
    sign_in_throttle,
    user_access_tokens,
    registration_tokens,
    mail_outbox,
    account_tokens,
    totp_factors,
    recovery_codes,
    passkeys,
    webauthn_ceremonies,
);
