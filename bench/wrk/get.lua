-- GET with a bearer token, the same request for the bare endpoint and the meeting.
--   wrk -s bench/wrk/get.lua --latency http://127.0.0.1:PORT/PATH -- TOKEN
-- No request() function, so wrk formats the request once and reuses the buffer.
-- done() prints one machine-readable line for bench/run.py (latencies in microseconds).

function init(args)
   wrk.headers["Authorization"] = "Bearer " .. (args[1] or "none")
   wrk.headers["Accept"] = "application/json"
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
