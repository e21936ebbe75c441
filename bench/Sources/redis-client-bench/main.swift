// Measures the Redis client alone: GETs per second on ONE connection with 1, 16, 256
// and 10,000 concurrent callers. Run by bench/redis-client.sh (`make bench-redis-client`),
// which starts its own redis-server and prints redis-benchmark's figures beside these.
#if canImport(Glibc)
import Glibc
#endif
import Logging
import RedisClient

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: redis-client-bench REDIS_URL [TOTAL_COMMANDS]")
    exit(64)
}
let total = arguments.count >= 3 ? Int(arguments[2]) ?? 200_000 : 200_000

var configuration = try RedisClientConfiguration(url: arguments[1])
configuration.connectionsPerNode = 1
configuration.commandTimeout = .seconds(30)
let client = try RedisClient(configuration: configuration, logger: Logger(label: "redis-client-bench"))
_ = try await client.send("SET", "bench:key", "value-of-sixteen")

/// `callers` tasks share the one connection; each sends its share of GETs one after another.
func run(callers: Int, commands: Int) async throws -> Double {
    let perCaller = commands / callers
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<callers {
            group.addTask {
                for _ in 0..<perCaller {
                    _ = try await client.send("GET", "bench:key")
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(perCaller * callers) / seconds
}

_ = try await run(callers: 16, commands: 20_000)  // warm-up: connect, JIT-free but caches warm
print("redis-client-bench: \(total) GETs per row, one connection")
for callers in [1, 16, 256, 10_000] {
    let rate = try await run(callers: callers, commands: max(total, callers))
    print("client  callers=\(callers)\tcommands/s=\(Int(rate))")
}
await client.shutdown()
