use super::Failure;
use crate::config::Config;
use crate::{Application, Clock};

pub fn serve(config: Config) -> Result<(), Failure> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app = Application::build(config, Clock::default()).map_err(Failure::usage)?;
        app.run_until_stopped().await.map_err(Failure::other)
    })
}

pub fn migrate(config: &Config) -> Result<(), Failure> {
    let store = crate::store::Store::open(&config.database_url, 1, crate::Clock::default())
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    let n = store
        .migrate()
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    println!(
        "applied {n} migration(s) to the {} database",
        store.kind().name()
    );
    Ok(())
}

/// The names of every migration of the backend, oldest first.
pub fn all_migrations(kind: crate::store::DbKind) -> Vec<String> {
    use diesel::migration::MigrationSource;
    let names = match kind {
        crate::store::DbKind::Sqlite => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&crate::store::SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().to_string()).collect())
        }
        crate::store::DbKind::Postgres => {
            MigrationSource::<diesel::pg::Pg>::migrations(&crate::store::PG_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().to_string()).collect())
        }
    };
    let mut names: Vec<String> = names.unwrap_or_default();
    names.sort();
    names
}

/// `migrate --check`: lists what `migrate` would apply, applies nothing;
/// exits 1 when something is pending (so a deploy script can stop). A
/// SQLite file that does not exist yet has every migration pending, and
/// is not created.
pub fn check_migrations(config: &Config) -> Result<(), Failure> {
    if super::missing_database(&config.database_url).is_some() {
        let pending = all_migrations(crate::store::DbKind::Sqlite);
        for name in &pending {
            println!("pending: {name}");
        }
        return Err(Failure::other(format!(
            "no database yet: {} migration(s) pending; run `gatehouse migrate`",
            pending.len()
        )));
    }
    let store = crate::store::Store::open(&config.database_url, 1, crate::Clock::default())
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    let pending = store
        .conn()
        .and_then(|mut c| c.pending_migrations())
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    if pending.is_empty() {
        println!("the {} database is up to date", store.kind().name());
        return Ok(());
    }
    for name in &pending {
        println!("pending: {name}");
    }
    Err(Failure::other(format!(
        "{} migration(s) pending; run `gatehouse migrate`",
        pending.len()
    )))
}
