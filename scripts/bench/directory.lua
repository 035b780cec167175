-- wrk script: FHIR searches on the directory (coeur-annuaire serve), GET on keep-alive
-- connections, cycling through the request paths of a file (one a line).
--
-- Environment:
--   BENCH_PATHS  file of request paths (e.g. /Practitioner?identifier=…)
--   BENCH_CHECK  "each": every answer that is not HTTP 200 with a searchset Bundle holding at
--                least one match is counted and reported by done() as
--                "bench: bad responses: N" (costs wrk a Lua call per answer: warm-up only).

local file = assert(os.getenv("BENCH_PATHS"), "BENCH_PATHS is not set")
local check_each = os.getenv("BENCH_CHECK") == "each"

local paths = {}
for l in io.lines(file) do
  if #l > 0 then table.insert(paths, l) end
end
assert(#paths > 0, "no request paths in " .. file)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  bad = 0
  first_bad = ""
  i = ((tid or 1) * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept"] = "application/fhir+json" })
end

if check_each then
  function response(status, headers, body)
    if status ~= 200 or not body:find('"type":"searchset"', 1, true)
      or not body:find('"mode":"match"', 1, true) then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. body:sub(1, 200) end
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    local n = t:get("bad")
    total = total + n
    if n > 0 then io.write("bench: first bad response: " .. t:get("first_bad") .. "\n") end
  end
  if check_each then io.write(string.format("bench: bad responses: %d\n", total)) end
  io.write(string.format("bench: p50_ms=%.3f p99_ms=%.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
