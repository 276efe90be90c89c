-- bench.lua: wrk's side of bench/bench.py.
--
-- BENCH_SPEC names a Lua file bench.py writes, returning a table:
--   mode     "plain"   the same request again and again (wrk's static path)
--            "refresh" refresh_token rotation: each answer's refresh token
--                      is the next request's, one chain per thread (so one
--                      connection per thread), each thread starting from
--                      its own grant (tokens[i]); a token used twice would
--                      revoke the grant, so a chain must never fork
--            "soak"    requests[] in turn, each thread stopping after
--                      `limit` answers: a bounded count, not a duration
--   method, headers, body                 the request (plain, refresh)
--   tokens, requests, limit               as above
-- done() prints one line, "BENCH k=v ...", that bench.py reads.
local spec = dofile(os.getenv("BENCH_SPEC"))

wrk.method = spec.method or "GET"
wrk.body = spec.body
for name, value in pairs(spec.headers or {}) do
   wrk.headers[name] = value
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local function form_escape(s)
   return (s:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

if spec.mode == "refresh" then
   local token, broken = nil, 0

   function init(args)
      token = spec.tokens[id]
   end

   function request()
      return wrk.format(nil, nil, nil, spec.body .. form_escape(token))
   end

   function response(status, headers, body)
      local next_token = status == 200
         and body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if next_token then
         token = next_token
      else
         broken = broken + 1
      end
   end
elseif spec.mode == "soak" then
   local i, answered = 0, 0

   function request()
      i = i % #spec.requests + 1
      return spec.requests[i]
   end

   function response(status, headers, body)
      answered = answered + 1
      if answered >= spec.limit then
         wrk.thread:stop()
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "status_errors=%d socket_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(99), e.status, e.connect + e.read + e.write,
      e.timeout))
end
