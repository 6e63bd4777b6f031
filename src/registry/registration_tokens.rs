//! RFC 7591 §3 initial access tokens: what `POST /register` asks of a
//! platform when `GATEHOUSE_REGISTRATION=token`.

use super::{Registry, RegistryError};
use crate::crypto::{random_token, token_hash};

impl Registry<'_> {
    /// An initial access token good for `uses` registrations until `ttl`
    /// seconds from now (`None`: no expiry). Returns the plain token,
    /// shown once; only its hash is stored.
    pub async fn create_registration_token(
        &self,
        uses: i64,
        ttl: Option<i64>,
    ) -> Result<String, RegistryError> {
        if uses < 1 {
            return Err(RegistryError::Invalid("--uses must be at least 1".into()));
        }
        if ttl.is_some_and(|t| t < 1) {
            return Err(RegistryError::Invalid(
                "--ttl must be at least 1 second".into(),
            ));
        }
        let token = random_token(32);
        let (hash, now) = (token_hash(&token), self.clock.now());
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    c.insert_registration_token(&hash, uses, ttl.map(|t| now + t), now)
                })
            })
            .await?;
        Ok(token)
    }
}
