//! A small API protected by gatehouse tokens: `GET /notes` needs the
//! `read` scope, `POST /notes` needs `write`, `GET /me` any valid token.
//!
//! ```sh
//! GATEHOUSE_ISSUER=http://127.0.0.1:8080 cargo run -p gatehouse-guard --example resource_server
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/notes
//! ```
//!
//! Settings: GATEHOUSE_ISSUER (required), GATEHOUSE_AUDIENCE (default: the
//! issuer, as gatehouse's own default), LISTEN (default 127.0.0.1:8081).

use actix_web::{web, App, HttpResponse, HttpServer};
use gatehouse_guard::actix::Authenticated;
use gatehouse_guard::Guard;
use std::sync::Mutex;

gatehouse_guard::scopes!(Read = "read");
gatehouse_guard::scopes!(Write = "write");

struct Notes(Mutex<Vec<String>>);

async fn list(auth: Authenticated<Read>, notes: web::Data<Notes>) -> HttpResponse {
    let notes = notes.0.lock().map(|n| n.clone()).unwrap_or_default();
    HttpResponse::Ok().json(serde_json::json!({"for": auth.sub, "notes": notes}))
}

async fn create(
    _auth: Authenticated<Write>,
    notes: web::Data<Notes>,
    body: String,
) -> HttpResponse {
    if let Ok(mut n) = notes.0.lock() {
        n.push(body);
    }
    HttpResponse::Created().finish()
}

async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "sub": auth.sub,
        "client_id": auth.client_id,
        "scope": auth.scopes.join(" "),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let Ok(issuer) = std::env::var("GATEHOUSE_ISSUER") else {
        eprintln!("set GATEHOUSE_ISSUER to the gatehouse issuer URL");
        std::process::exit(2);
    };
    let audience = std::env::var("GATEHOUSE_AUDIENCE").unwrap_or_else(|_| issuer.clone());
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let guard = match Guard::discover(issuer, audience).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cannot reach the issuer: {e}");
            std::process::exit(1);
        }
    };
    let guard = web::Data::new(guard);
    let notes = web::Data::new(Notes(Mutex::new(Vec::new())));
    eprintln!("listening on http://{listen}");
    HttpServer::new(move || {
        App::new()
            .app_data(guard.clone())
            .app_data(notes.clone())
            .route("/notes", web::get().to(list))
            .route("/notes", web::post().to(create))
            .route("/me", web::get().to(me))
    })
    .bind(listen)?
    .run()
    .await
}
