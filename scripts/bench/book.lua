-- wrk script shared by every benchmark run, so all numbers come out of one parser.
--
-- Env:  BENCH_BODY_MODE=book (default): POST a booking, quantity 1, unique userId
--                                         ("u<run>-<thread>-<n>"), tiers round-robin
--       BENCH_BODY_MODE=order:          POST an order of one ticket of each tier in BENCH_TIERS
--                                         (to BENCH_PATH=/api/orders), unique userId
--       BENCH_BODY_MODE=none:           plain GET (e.g. /health for the ceiling)
--       BENCH_PATH   request path (default: the URL's path)
--       BENCH_TIERS  comma-separated tier codes (default VIP)
-- Prints ONE line: "BENCH_JSON {requests, duration_us, errors{...}, latency_ms{...},
-- statuses{code: count}}" for scripts/bench/wrk.py to parse. Defining response()
-- costs wrk some speed but is the only way to count statuses (201 vs 422 vs 5xx).

local mode = os.getenv("BENCH_BODY_MODE") or "book"
local path = os.getenv("BENCH_PATH") or wrk.path
local tiers = {}
for code in string.gmatch(os.getenv("BENCH_TIERS") or "VIP", "[^,%s]+") do
  tiers[#tiers + 1] = code
end

-- main state: give each thread an id and a per-run nonce (keeps userIds unique across runs)
local threads, next_id, run = {}, 0, tostring(os.time())
function setup(thread)
  thread:set("id", next_id)
  thread:set("run", run)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

-- thread states; statuses is global because done() reads it with thread:get
local counter = 0
statuses = {}
local headers = { ["Content-Type"] = "application/json" }

local items = {}
for _, code in ipairs(tiers) do
  items[#items + 1] = string.format('{"tier":"%s","quantity":1}', code)
end
local order_items = table.concat(items, ",")

function request()
  counter = counter + 1
  if mode == "order" then
    local body = string.format('{"userId":"u%s-%d-%d","items":[%s]}', run, id, counter, order_items)
    return wrk.format("POST", path, headers, body)
  end
  local tier = tiers[(counter + id) % #tiers + 1]
  local body = string.format('{"userId":"u%s-%d-%d","tier":"%s","quantity":1}',
                              run, id, counter, tier)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- a constant GET needs no per-request Lua: wrk then reuses one prebuilt request
if mode == "none" then request, wrk.path = nil, path end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses") or {}) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d":%d', code, n)
  end
  local e = summary.errors
  local function ms(us) return us / 1000 end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,"mean":%.3f,"max":%.3f},' ..
    '"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)),
    ms(latency:percentile(99)), ms(latency.mean), ms(latency.max), table.concat(parts, ",")))
end
