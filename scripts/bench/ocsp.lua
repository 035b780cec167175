-- wrk script: OCSP requests (RFC 6960, POST application/ocsp-request) on keep-alive
-- connections.
--
-- Environment:
--   BENCH_OCSP_REQUEST  file holding a DER OCSPRequest (e.g. from `openssl ocsp -reqout`)
--   BENCH_OCSP_PATH     responder path (default /pki/ocsp)
--   BENCH_OCSP_NONCE    "1": the request carries a 16-byte nonce as its last 16 bytes (what
--                       `openssl ocsp` writes) and every request gets a different nonce, so
--                       every answer has to be signed on demand; otherwise the same bytes are
--                       sent each time, which a responder may answer from its cache.
--
--   BENCH_OCSP_CHECK    "each": every answer that is not HTTP 200 with a successful
--                       OCSPResponse (responseStatus 0) is counted and reported by done() as
--                       "bench: bad responses: N", so the caller can fail the run. This costs
--                       wrk a Lua call and a body copy per answer, so measured runs leave it
--                       off and rely on done()'s "bench: bytes_per_response=B" (a refusal is a
--                       few bytes, a signed answer about a kilobyte) and wrk's non-2xx count.

local path = os.getenv("BENCH_OCSP_PATH") or "/pki/ocsp"
local file = assert(os.getenv("BENCH_OCSP_REQUEST"), "BENCH_OCSP_REQUEST is not set")
local vary_nonce = os.getenv("BENCH_OCSP_NONCE") == "1"
local check_each = os.getenv("BENCH_OCSP_CHECK") == "each"

local f = assert(io.open(file, "rb"))
local der = f:read("*a")
f:close()
assert(#der > 20 and der:byte(1) == 0x30, "not a DER OCSPRequest")

local prefix
if vary_nonce then
  -- extnValue OCTET STRING { OCTET STRING (16 bytes) }: 04 12 04 10 <16 bytes> at the end.
  assert(der:byte(#der - 17) == 0x04 and der:byte(#der - 16) == 0x10,
    "the request does not end with a 16-byte nonce")
  prefix = der:sub(1, #der - 16)
end

wrk.method = "POST"
wrk.path = path
wrk.body = der
wrk.headers["Content-Type"] = "application/ocsp-request"
wrk.headers["Accept"] = "application/ocsp-response"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  bad = 0
  first_bad = ""
  counter = 0
  -- Nonce = 8 bytes naming the thread and the run, then an 8-byte counter.
  local seed = (tid or 0) * 65536 + os.time() % 65536
  local s = {}
  for i = 8, 1, -1 do
    s[i] = seed % 256
    seed = math.floor(seed / 256)
  end
  salt = string.char(unpack(s))
end

if vary_nonce then
  function request()
    counter = counter + 1
    local c, bytes = counter, {}
    for i = 8, 1, -1 do
      bytes[i] = c % 256
      c = math.floor(c / 256)
    end
    local nonce = salt .. string.char(unpack(bytes))
    return wrk.format(nil, nil, nil, prefix .. nonce)
  end
end

if check_each then
  function response(status, headers, body)
    -- OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (0 = successful), ... }
    local ok = status == 200 and body ~= nil and body:byte(1) == 0x30
      and body:sub(1, 8):find("\10\1\0", 1, true) ~= nil
    if not ok then
      if bad == 0 then first_bad = tostring(status) .. " (" .. tostring(body and #body) .. " bytes)" end
      bad = bad + 1
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
  if summary.requests > 0 then
    io.write(string.format("bench: bytes_per_response=%.1f\n", summary.bytes / summary.requests))
  end
  io.write(string.format("bench: p50_ms=%.3f p99_ms=%.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
