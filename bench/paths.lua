-- wrk script: cycles through the request paths listed (one a line) in the file named by the first
-- script argument, each thread from its own offset, and prints one machine-readable result line.
-- Usage: wrk -s bench/paths.lua http://127.0.0.1:PORT -- paths.txt [header: value]

local paths = {}
local counter = 0
local thread_number = 0

function setup(thread)
  thread:set("offset", thread_number * 7919)
  thread_number = thread_number + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  counter = offset or 0
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.2f p50=%.3f p95=%.3f p99=%.3f errors=%d non2xx=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status))
end
