-- wrk script: client_credentials grants with client_secret_basic on keep-alive connections.
--
-- Environment: BENCH_TOKEN_PATH (token endpoint path), BENCH_CLIENT_ID, BENCH_SECRET,
-- BENCH_SCOPE (default scope_all). Every response whose status is not 200 is counted and
-- reported by done() as "bench: non-200 responses: N", so the caller can fail the run.

local function b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local path = os.getenv("BENCH_TOKEN_PATH") or "/token"
local id = assert(os.getenv("BENCH_CLIENT_ID"), "BENCH_CLIENT_ID is not set")
local secret = assert(os.getenv("BENCH_SECRET"), "BENCH_SECRET is not set")
local scope = os.getenv("BENCH_SCOPE") or "scope_all"

wrk.method = "POST"
wrk.path = path
wrk.body = "grant_type=client_credentials&scope=" .. urlencode(scope)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. b64(urlencode(id) .. ":" .. urlencode(secret))

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  if status ~= 200 then
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
