-- wrk script: POST /token with client_credentials for client BENCH_CLIENT_ID
-- and a different wrong secret on every request (in the form body), so no
-- two requests can share one argon2 verification: the flood's worst case.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  n = 0
  prefix = "grant_type=client_credentials&scope=read&client_id=" .. os.getenv("BENCH_CLIENT_ID")
    .. "&client_secret=wrong-" .. id .. "-"
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end
function request()
  n = n + 1
  return wrk.format("POST", "/token", headers, prefix .. n)
end
