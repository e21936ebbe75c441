/// SplitMix64: small, fast, and fixed by its seed, so a seed and an order of requests
/// decide the same faults on every run. (SimulatorCore has the same generator; the
/// double does not depend on the simulator, so it keeps its own copy.)
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A number in 0..<1 from the top 53 bits: `unit() < rate` is never true at rate 0
    /// and always true at rate 1.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// SplitMix64's finalizer, a bijection of UInt64: distinct inputs give distinct outputs.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
