//! Marks a build made with `GATEHOUSE_TEST_POSTGRES_URL` set, so the
//! integration tests' PostgreSQL cases run then and show as ignored (with
//! the reason) otherwise, instead of passing without doing anything.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gatehouse_test_postgres)");
    println!("cargo::rerun-if-env-changed=GATEHOUSE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=gatehouse_test_postgres");
    }
}
