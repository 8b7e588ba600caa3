-- wrk script: POST a GraphQL body for a random account from ids.txt. The body file has a
-- placeholder for the account id and may have a second one for a key unique to the
-- request (an idempotency key); string.format ignores the key when there is no second.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local body = io.open(os.getenv("BENCH_QUERY")):read("*a")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
math.randomseed(7)

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local sent = 0
request = function()
  sent = sent + 1
  local id = ids[math.random(#ids)]
  local key = string.format("%d-%d-%d", thread_id, sent, math.random(1e9))
  return wrk.format(nil, "/graphql", nil, string.format(body, id, key))
end
