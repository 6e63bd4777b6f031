-- wrk script: the resource-owner password grant (RFC 6749 §4.3), one
-- argon2id verification of the user's password per request, then a token:
-- the nearest gatehouse has to Keycloak's "password-based user logins".
-- BENCH_BASIC: base64 client_id:secret; BENCH_USERNAME, BENCH_PASSWORD.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "grant_type=password&username=" .. os.getenv("BENCH_USERNAME")
  .. "&password=" .. os.getenv("BENCH_PASSWORD")
