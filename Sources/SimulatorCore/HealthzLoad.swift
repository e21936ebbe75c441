/// Closed-loop load on `GET /healthz`: `clients` tasks, each sending its next request as
/// soon as the last is answered, for `duration`. Measures the simulator as a load
/// generator, apart from anything Redis does.
public enum HealthzLoad {
    public struct Result: Sendable {
        public let requests: Int
        public let errors: Int
        public let duration: Duration

        public var requestsPerSecond: Double {
            Double(requests) / max(duration.totalMilliseconds / 1000, 0.001)
        }
    }

    public static func run(targets: [String], clients: Int, duration: Duration, transport: any SimulatorTransport) async -> Result {
        let start = ContinuousClock.now
        let end = start + duration
        let counts = await withTaskGroup(of: (Int, Int).self) { group in
            for client in 0..<clients {
                group.addTask {
                    let url = targets[client % targets.count] + "/healthz"
                    var requests = 0
                    var errors = 0
                    while ContinuousClock.now < end {
                        requests += 1
                        if (try? await transport.get(url, timeout: .seconds(5)))?.status != 200 { errors += 1 }
                    }
                    return (requests, errors)
                }
            }
            return await group.reduce(into: (0, 0)) { $0.0 += $1.0; $0.1 += $1.1 }
        }
        return Result(requests: counts.0, errors: counts.1, duration: ContinuousClock.now - start)
    }
}
