import PaymentCore
import StrictJSON

/// Open-loop load on `POST /pay`: new payments (a unique key each, one attempt each) sent
/// on a fixed schedule of `rate` per second, whatever the answers. Each latency counts
/// from the request's scheduled time, not from when it was actually sent, so a server
/// that stalls shows up as latency instead of as fewer requests (no coordinated
/// omission, as in wrk2).
public enum OpenLoopLoad {
    public struct Result: Sendable {
        public let requests: Int
        public let duration: Duration
        /// Answers by status, plus "timeout" / "connection_error".
        public let statusCounts: [String: Int]
        public let latency: LatencyPercentiles

        public var achievedRate: Double {
            Double(requests) / max(duration.totalMilliseconds / 1000, 0.001)
        }

        /// One line of JSON for scripts (bench/run.sh).
        public var json: String {
            var writer = JSONWriter()
            writer.object { root in
                root.field("requests", integer: Int64(requests))
                root.field("duration_ms", number: duration.totalMilliseconds)
                root.field("achieved_rate", number: achievedRate)
                root.field("status_counts") { counts in
                    for (status, count) in statusCounts.sorted(by: { $0.key < $1.key }) {
                        counts.field(status, integer: Int64(count))
                    }
                }
                root.field("latency_ms") { latencies in
                    latencies.field("p50", number: latency.p50)
                    latencies.field("p90", number: latency.p90)
                    latencies.field("p99", number: latency.p99)
                    latencies.field("max", number: latency.max)
                }
            }
            return String(decoding: writer.bytes, as: UTF8.self)
        }
    }

    public static func run(
        targets: [String], rate: Int, duration: Duration, users: Int, runID: String, transport: any SimulatorTransport
    ) async -> Result {
        let total = Int(Double(rate) * duration.totalMilliseconds / 1000)
        let interval = Duration.seconds(1) / rate
        let start = ContinuousClock.now
        let answers = await withTaskGroup(of: (String, Double).self) { group in
            var sent = 0
            while sent < total {
                // Every request already due goes out now; then a short sleep. Batching per
                // millisecond keeps the schedule without a timer per request.
                let due = min(total, Int((ContinuousClock.now - start) / interval) + 1)
                while sent < due {
                    let index = sent
                    let scheduled = start + interval * index
                    group.addTask {
                        let body = #"{"user_id":"\#(runID)-u\#(index % users)","amount":1.00,"currency":"USD","idempotency_key":"\#(runID)-\#(index)"}"#
                        let status: String
                        do throws(TransportError) {
                            status = String(try await transport.post(targets[index % targets.count] + "/pay", body: Array(body.utf8), timeout: .seconds(5)).status)
                        } catch {
                            status = error.label
                        }
                        return (status, (ContinuousClock.now - scheduled).totalMilliseconds)
                    }
                    sent += 1
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
            return await group.reduce(into: [(String, Double)]()) { $0.append($1) }
        }
        return Result(
            requests: answers.count,
            duration: ContinuousClock.now - start,
            statusCounts: answers.reduce(into: [:]) { $0[$1.0, default: 0] += 1 },
            latency: LatencyPercentiles(answers.map(\.1))
        )
    }
}
