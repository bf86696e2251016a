-- wrk script for serve-load.sh: each connection cycles through the request paths in the file
-- named by $RK_WRK_PATHS (one a line), and the summary adds p50/p90/p99 and every error count.
local paths = {}
local i = 0

function init(args)
    for line in io.lines(os.getenv("RK_WRK_PATHS")) do
        paths[#paths + 1] = line
    end
    i = math.random(#paths)
end

function request()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("requests %d in %.1f s: %.0f requests/s\n", summary.requests,
        summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
    io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
    io.write(string.format("errors: connect %d, read %d, write %d, timeout %d, non-2xx %d\n",
        e.connect, e.read, e.write, e.timeout, e.status))
end
