-- wrk script: CIBA authentication requests (client_secret_basic, keep-alive), each for a new
-- well-formed national id (8 + an RPPS number with its Luhn key), as an LPS asks on MOBILE.
--
-- Environment: BENCH_CIBA_PATH, BENCH_AUTHORIZATION. Responses other than 200 are
-- counted and reported by done() as "bench: non-200 responses: N".

-- The Luhn key of a string of digits.
local function luhn(digits)
  local sum, double = 0, true
  for i = #digits, 1, -1 do
    local d = tonumber(digits:sub(i, i))
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return tostring((10 - sum % 10) % 10)
end

local path = assert(os.getenv("BENCH_CIBA_PATH"), "BENCH_CIBA_PATH is not set")
-- The client's Authorization header (Basic), made by the calling script.
local auth = assert(os.getenv("BENCH_AUTHORIZATION"), "BENCH_AUTHORIZATION is not set")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  math.randomseed(os.time() + tid * 7919)
end

function request()
  counter = counter + 1
  local body = string.format("%02d%08d", tid % 100, counter % 100000000)
  local nid = "8" .. body .. luhn(body)
  return wrk.format("POST", path, {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "scope=openid+all&acr_values=eidas1&binding_message=00&channel=MOBILE&requested_expiry=600&login_hint=" .. nid)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non200") end
  io.write(string.format("bench: non-200 responses: %d\n", n))
end
