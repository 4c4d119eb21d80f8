-- wrk with HTTP/1.1 pipelining, as in TechEmpower's plaintext test: each connection writes DEPTH
-- requests back to back and writes the next DEPTH once all their responses are in.
-- Usage: wrk -t1 -c7 -d10s -s 04-stdlib-proposal/benchmarks/pipeline.lua URL -- DEPTH
init = function(args)
  local depth = tonumber(args[1]) or 16
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format()
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
