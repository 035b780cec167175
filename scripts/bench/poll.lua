-- wrk script: CIBA polls of the token endpoint (client_secret_basic, keep-alive), in turn over
-- the pending requests whose auth_req_ids are in BENCH_IDS_FILE (one a line), so that each is
-- polled about once a second. A pending request answers 400 authorization_pending (or
-- slow_down when polled within its interval): both are counted as answered polls; anything
-- else is reported by done() as "bench: unexpected responses: N".
--
-- Environment: BENCH_TOKEN_PATH, BENCH_CLIENT_ID, BENCH_SECRET, BENCH_IDS_FILE.

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

local path = assert(os.getenv("BENCH_TOKEN_PATH"), "BENCH_TOKEN_PATH is not set")
local id = assert(os.getenv("BENCH_CLIENT_ID"), "BENCH_CLIENT_ID is not set")
local secret = assert(os.getenv("BENCH_SECRET"), "BENCH_SECRET is not set")
local file = assert(os.getenv("BENCH_IDS_FILE"), "BENCH_IDS_FILE is not set")
local auth = "Basic " .. b64(id .. ":" .. secret)
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
  ids = {}
  for line in io.lines(file) do
    if #line > 0 then table.insert(ids, line) end
  end
  assert(#ids > 0, "no auth_req_id in " .. file)
  pos = (tid * 7919) % #ids
end

function request()
  pos = pos % #ids + 1
  return wrk.format("POST", path, {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=" .. ids[pos])
end

function response(status, headers, body)
  if status ~= 400 or not (body:find("authorization_pending", 1, true) or body:find("slow_down", 1, true)) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("unexpected") end
  io.write(string.format("bench: unexpected responses: %d\n", n))
end
