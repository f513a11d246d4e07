-- bench/lines.lua - wrk: one request per line of $BENCH_LINES, never twice.
-- A line is "<header value>\t<body>"; BENCH_PATH is the path, BENCH_HEADER
-- the header the first field goes into (Stripe-Signature, Authorization).
-- Thread k of n takes lines k, k+n, k+2n, …; past the end it stops, or,
-- with BENCH_WRAP=1 (requests that may repeat: stored duplicates), starts
-- over.
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
   path = os.getenv("BENCH_PATH")
   header = os.getenv("BENCH_HEADER")
   lines = {}
   for l in io.lines(os.getenv("BENCH_LINES")) do
      lines[#lines + 1] = l
   end
   idx = id + 1
   wrap = os.getenv("BENCH_WRAP") == "1"
end

function request()
   local l = lines[idx]
   if l == nil and wrap then
      idx = id + 1
      l = lines[idx]
   end
   if l == nil then
      wrk.thread:stop()
      return wrk.format("GET", "/__bench_exhausted")
   end
   idx = idx + nthreads
   local tab = string.find(l, "\t", 1, true)
   local headers = { ["Content-Type"] = "application/json" }
   headers[header] = string.sub(l, 1, tab - 1)
   return wrk.format("POST", path, headers, string.sub(l, tab + 1))
end
