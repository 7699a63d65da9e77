-- POST a new meeting, spread round-robin over several users' myOnlineMeetings.
--   wrk -s bench/wrk/post.lua --latency http://127.0.0.1:PORT/ -- BODY PATH1 TOKEN1 PATH2 TOKEN2 ...
-- BODY is the JSON meeting sent with every request; each (PATH, TOKEN) pair is one user's
-- myOnlineMeetings href and bearer token. Requests are formatted once, in init().
-- done() prints one machine-readable line for bench/run.py (latencies in microseconds).

local formatted = {}
local next_index = 0

function init(args)
   local body = args[1]
   for k = 2, #args - 1, 2 do
      local headers = {
         ["Host"] = wrk.headers["Host"],
         ["Authorization"] = "Bearer " .. args[k + 1],
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json",
      }
      formatted[#formatted + 1] = wrk.format("POST", args[k], headers, body)
   end
   assert(#formatted > 0, "post.lua needs BODY and at least one PATH TOKEN pair")
end

function request()
   next_index = next_index % #formatted + 1
   return formatted[next_index]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,'
         .. '"mean_us":%.1f,"max_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,'
         .. '"timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
