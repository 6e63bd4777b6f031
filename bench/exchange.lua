-- wrk script: POST /token with authorization_code + PKCE, each code once.
-- Thread n reads BENCH_CODES.n (written by mint.lua); once its codes run
-- out it sends spent ones, which show as non-2xx answers. With
-- BENCH_REFRESH_OUT set, each answer's refresh_token is appended to
-- BENCH_REFRESH_OUT.<thread number>.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  codes = {}
  for line in io.lines(os.getenv("BENCH_CODES") .. "." .. id) do codes[#codes + 1] = line end
  next_code = 1
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
  suffix = "&redirect_uri=" .. os.getenv("BENCH_REDIRECT_ENC")
    .. "&code_verifier=" .. os.getenv("BENCH_VERIFIER")
  if os.getenv("BENCH_REFRESH_OUT") then
    out = io.open(os.getenv("BENCH_REFRESH_OUT") .. "." .. id, "w")
    out:setvbuf("line")
  end
end
function request()
  local code = codes[next_code] or "spent"
  next_code = next_code + 1
  return wrk.format("POST", "/token", headers, "grant_type=authorization_code&code=" .. code .. suffix)
end
-- Defined only when answers are kept: wrk hands every answer to Lua when
-- a `response` function exists, which costs the load generator CPU on
-- the server's cores.
if os.getenv("BENCH_REFRESH_OUT") then
  function response(status, hdrs, body)
    if status == 200 then
      local rt = body:match('"refresh_token":"([^"]+)"')
      if rt then out:write(rt, "\n") end
    end
  end
end
