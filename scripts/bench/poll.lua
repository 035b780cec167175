-- wrk script: CIBA polls of the token endpoint (client_secret_basic, keep-alive), in turn over
-- the pending requests whose auth_req_ids are in BENCH_IDS_FILE (one a line), in turn. A pending request answers 400 authorization_pending (or
-- slow_down when polled within its interval): both are counted as answered polls; anything
-- else is reported by done() as "bench: unexpected responses: N".
--
-- Environment: BENCH_TOKEN_PATH, BENCH_AUTHORIZATION, BENCH_IDS_FILE, and BENCH_IDS_LIMIT
-- (poll only the first N requests: each then comes back sooner). done() also reports how
-- many answers were authorization_pending and how many slow_down.

local path = assert(os.getenv("BENCH_TOKEN_PATH"), "BENCH_TOKEN_PATH is not set")
local file = assert(os.getenv("BENCH_IDS_FILE"), "BENCH_IDS_FILE is not set")
local limit = tonumber(os.getenv("BENCH_IDS_LIMIT") or "0")
-- The client's Authorization header (Basic), made by the calling script.
local auth = assert(os.getenv("BENCH_AUTHORIZATION"), "BENCH_AUTHORIZATION is not set")
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
  pending = 0
  slow = 0
  ids = {}
  for line in io.lines(file) do
    if #line > 0 and (limit == 0 or #ids < limit) then table.insert(ids, line) end
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
  if status == 400 and body:find("authorization_pending", 1, true) then
    pending = pending + 1
  elseif status == 400 and body:find("slow_down", 1, true) then
    slow = slow + 1
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local n, p, sl = 0, 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("unexpected")
    p = p + t:get("pending")
    sl = sl + t:get("slow")
  end
  io.write(string.format("bench: unexpected responses: %d\n", n))
  io.write(string.format("bench: answers: authorization_pending %d, slow_down %d\n", p, sl))
end
