-- wrk script: POST the account view for a random account from ids.txt.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local query = io.open(os.getenv("BENCH_QUERY")):read("*a")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
math.randomseed(7)
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format(nil, "/graphql", nil, string.format(query, id))
end
