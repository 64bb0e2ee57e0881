-- Shared wrk `done` callback: prints the figures bench/run.sh reads (wrk's own --latency table
-- stops at p99). Scripts load it with dofile("bench/report.lua"); run from the repository root.
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
  io.write(string.format("p50_us=%d\n", latency:percentile(50)))
  io.write(string.format("p99_us=%d\n", latency:percentile(99)))
  io.write(string.format("p999_us=%d\n", latency:percentile(99.9)))
end
