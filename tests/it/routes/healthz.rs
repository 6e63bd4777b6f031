//! `GET /healthz` (liveness) and `GET /readyz` (readiness: the database
//! answers).

use crate::harness::TestApp;

backend_tests!(health_and_readiness_answer,);

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}
