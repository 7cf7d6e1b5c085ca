-- wrk script: signed GitHub workflow_run deliveries, each with its own delivery id.
-- The body and its signature are fixed (computed once by bench/webhook_load.sh);
-- X-GitHub-Delivery changes per request so github.webhook never sees a redelivery, also
-- across runs against the same engine (its dedup window remembers earlier runs' ids).
local body_file = os.getenv("BENCH_BODY")
local signature = os.getenv("BENCH_SIGNATURE")
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

local counter = 0
local next_thread = 0
local run = tostring(os.time())  -- runs are seconds apart

-- thread_id is a global set in each thread's Lua state (a local would shadow it).
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", run .. "-" .. next_thread)
end

function request()
  counter = counter + 1
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "workflow_run",
    ["X-GitHub-Delivery"] = string.format("bench-%s-%d", thread_id, counter),
    ["X-Hub-Signature-256"] = signature,
  }, body)
end
