-- wrk script: token introspection (RFC 7662) of one access token, on keep-alive connections.
--
-- Environment: BENCH_PATH (the introspection endpoint's path), BENCH_AUTHORIZATION (the
-- whole Authorization header value of the calling client), BENCH_TOKEN (the access token).
-- A response that is not 200 with "active":true is counted and reported by done() as
-- "bench: non-200 responses: N", so the caller can fail the run.

wrk.method = "POST"
wrk.path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH is not set")
wrk.body = "token=" .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = assert(os.getenv("BENCH_AUTHORIZATION"), "BENCH_AUTHORIZATION is not set")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body or "", '"active":true', 1, true) then
    if bad == 0 then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    local n = t:get("bad")
    total = total + n
    if n > 0 then io.write("bench: first non-200 response: " .. t:get("first_bad") .. "\n") end
  end
  io.write(string.format("bench: non-200 responses: %d\n", total))
  io.write(string.format("bench: p50_ms=%.3f p99_ms=%.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
