-- wrk script: POST /token with client_credentials and Basic auth.
-- BENCH_BASIC is "base64(id:secret)".
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
