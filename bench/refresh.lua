-- wrk script: refresh-token rotation. Each thread keeps a pool of live
-- refresh tokens (BENCH_REFRESH.<thread number>); a request spends one and
-- its answer puts the new one back, so every request is a real rotation.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  pool = {}
  for line in io.lines(os.getenv("BENCH_REFRESH") .. "." .. id) do pool[#pool + 1] = line end
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
end
function request()
  local token = table.remove(pool) or "spent"
  return wrk.format("POST", "/token", headers, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, hdrs, body)
  if status == 200 then
    local rt = body:match('"refresh_token":"([^"]+)"')
    if rt then pool[#pool + 1] = rt end
  end
end
