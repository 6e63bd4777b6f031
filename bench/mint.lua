-- wrk script: mints authorization codes. GET BENCH_AUTHORIZE_PATH with a
-- signed-in session (BENCH_COOKIE) whose consent is remembered; each
-- redirect's code goes to the file BENCH_CODES.<thread number>.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  out = io.open(os.getenv("BENCH_CODES") .. "." .. id, "w")
  out:setvbuf("line")
end
wrk.method = "GET"
wrk.path = os.getenv("BENCH_AUTHORIZE_PATH")
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
function response(status, headers, body)
  local location = headers["Location"] or headers["location"]
  local code = location and location:match("[?&]code=([^&]+)")
  if code then out:write(code, "\n") end
end
