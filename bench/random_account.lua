-- wrk script: POST a GraphQL body for a random account from ids.txt. The body file has a
-- placeholder for the account id and may have a second one for a key unique to the
-- request (an idempotency key); string.format ignores the key when there is no second.
-- A line of ids.txt may give the account's own credential after its id and a space (a
-- frontend's token): that account's requests carry it instead of BENCH_KEY.
local ids, credentials = {}, {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  local id, credential = line:match("^(%S+) (%S+)$")
  ids[#ids + 1] = id or line
  credentials[#ids] = credential
end
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
  local n = math.random(#ids)
  local id = ids[n]
  local key = string.format("%d-%d-%d", thread_id, sent, math.random(1e9))
  local headers = nil  -- wrk.headers; a table given instead replaces them all
  if credentials[n] then
    headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Authorization"] = "Bearer " .. credentials[n]
  end
  return wrk.format(nil, "/graphql", headers, string.format(body, id, key))
end
