-- Request shape for wrk, from the environment (read in every wrk thread):
--   BENCH_METHOD  GET (default) or HEAD
--   BENCH_ACCEPT  Accept header (manifest GETs)
--   BENCH_AUTH    Authorization header value ("Basic ...")
--   BENCH_CLOSE=1 "Connection: close": one new connection (so one TLS handshake) per request
-- done() prints one machine-readable line, "BENCHJSON {...}", with exact percentiles (us).
local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end
local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then wrk.headers["Accept"] = accept end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
if os.getenv("BENCH_CLOSE") == "1" then wrk.headers["Connection"] = "close" end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.2f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
