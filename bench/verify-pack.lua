-- wrk script: verify-pack requests for random units of a `medchain bench-supply` run, as GS1
-- DataMatrix element strings (URL-encoded). GTIN, PREFIX (serial prefix), LOT and UNITS come
-- from the run's output (`gtin`, `serial_prefix`, `lot`, `units`); PROOF=1 asks for proofs.
math.randomseed(7)
local gtin = os.getenv("GTIN") or "09506000134352"
local prefix, lot = assert(os.getenv("PREFIX"), "set PREFIX"), assert(os.getenv("LOT"), "set LOT")
local units = tonumber(os.getenv("UNITS") or "200000")
request = function()
  local serial = string.format("%s%08d", prefix, math.random(0, units - 1))
  local scan = "%5Dd201" .. gtin .. "21" .. serial .. "%1D10" .. lot .. "%1D17301231"
  local proof = os.getenv("PROOF") == "1" and "proof=true&" or ""
  return wrk.format("GET", "/v1/supply/verify?" .. proof .. "scan=" .. scan)
end
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"verdict":"genuine"', 1, true) then
    wrk.thread:set("bad", (wrk.thread:get("bad") or 0) + 1)
  end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("bad") or 0) end
  io.write(string.format("not genuine or not 200: %d of %d\n", bad, summary.requests))
end
