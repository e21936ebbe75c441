/// p50, p90, p99 and max of a set of latencies, nearest-rank (no interpolation).
public struct LatencyPercentiles: Sendable, Hashable {
    public let p50: Double
    public let p90: Double
    public let p99: Double
    public let max: Double

    public init(_ latencies: [Double]) {
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
        }
        p50 = percentile(0.50)
        p90 = percentile(0.90)
        p99 = percentile(0.99)
        max = sorted.last ?? 0
    }
}
