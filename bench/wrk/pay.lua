-- wrk script for bench/run.sh. Arguments (after --):
--   mode     "pay" (POST /pay) or "get" (GET of the URL's path, e.g. /healthz)
--   prefix   run prefix of user ids and keys
--   users    how many users the payments spread over
--   keyspace 0: a new idempotency key per request; N: keys cycle over N (replays once
--            each key has completed)
-- done() prints one line of JSON: requests/s, latency percentiles (ms), statuses.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  prefix = (args[2] or "bench") .. "-t" .. id
  users = tonumber(args[3] or "10000")
  keyspace = tonumber(args[4] or "0")
  counter = 0
  statuses = {}
  if keyspace > 0 then prefix = args[2] or "bench" end -- replays: every thread shares the keys
end

function request()
  if mode ~= "pay" then return wrk.request() end
  counter = counter + 1
  local n = counter
  if keyspace > 0 then n = counter % keyspace end
  local body = string.format(
    '{"user_id":"%s-u%d","amount":1.00,"currency":"USD","idempotency_key":"%s-%d"}',
    prefix, n % users, prefix, n)
  return wrk.format("POST", "/pay", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, count in pairs(s) do counts[status] = (counts[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(counts) do table.insert(parts, string.format('"%d":%d', status, count)) end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
