/// How a processor double behaves: where it listens, the token it requires, and the
/// faults it injects. The defaults are a well-behaved processor: no token, no latency,
/// no faults, deduplicating by `Idempotency-Key`.
public struct ProcessorDoubleSettings: Sendable, Hashable {
    /// What a charge-then-fail fault does after charging.
    public enum ChargeThenFail: String, Sendable, Hashable, CaseIterable {
        /// Close the connection without answering.
        case drop
        /// Answer 500.
        case status500 = "500"
        /// Either, half each, decided by the seeded generator.
        case both
    }

    public var host: String
    /// 0: any free port (read it back from `ProcessorDouble.port`).
    public var port: Int
    /// When set, `POST /charges` requires `Authorization: Bearer <token>`.
    public var token: String?
    /// How long the work on a new key takes; the key answers 409 meanwhile.
    public var latency: Duration
    /// Probability (0…1) that a new key is answered 503 without charging.
    public var failBeforeRate: Double
    /// Probability (0…1) that a new key is charged and then answered 500 or dropped.
    public var chargeThenFailRate: Double
    public var chargeThenFail: ChargeThenFail
    /// Probability (0…1) that a new key is charged and answered only after `slow`.
    public var slowRate: Double
    public var slow: Duration
    /// Probability (0…1) that a new key is charged, then answered with the head of its
    /// 201 (status line and headers, `Content-Length` of the whole body) at once and the
    /// body only after `stall`, or never if the connection closes first: a caller needs one
    /// deadline over head and body together to bound it.
    public var stallRate: Double
    public var stall: Duration
    /// Probability (0…1) that a new key is declined (402, final for the key).
    public var declineRate: Double
    /// Probability (0…1) that a new key is answered 409 `in_progress` with
    /// `Retry-After: 9223372036854775807`, charging nothing and forgetting the key: a
    /// caller must clamp a processor's `Retry-After` rather than sleep on it.
    public var absurdRetryAfterRate: Double
    /// Probability (0…1), drawn for every `POST /charges` before anything else, of a
    /// transient refusal that charges and changes nothing: 429 `rate_limited` with
    /// `Retry-After: -1` and 401 `unauthorized`, alternately (429 first). What a retry
    /// after an unknown outcome can meet (a rate limit, a token rotation) while its key
    /// may already be charged.
    public var transient4xxRate: Double
    /// Probability (0…1) that a lookup (`GET /charges/{key}`) is answered 503
    /// `unavailable` instead of what the double knows of the key.
    public var lookupFailRate: Double
    /// Seeds the generator that decides the faults: the same seed and the same order of
    /// new keys give the same faults.
    public var seed: UInt64
    /// A broken processor for negative tests: every request charges anew, with a new
    /// charge id, whatever its key (no deduplication, no 409).
    public var ignoreIdempotencyKeys: Bool

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        token: String? = nil,
        latency: Duration = .zero,
        failBeforeRate: Double = 0,
        chargeThenFailRate: Double = 0,
        chargeThenFail: ChargeThenFail = .both,
        slowRate: Double = 0,
        slow: Duration = .seconds(3),
        stallRate: Double = 0,
        stall: Duration = .seconds(25),
        declineRate: Double = 0,
        absurdRetryAfterRate: Double = 0,
        transient4xxRate: Double = 0,
        lookupFailRate: Double = 0,
        seed: UInt64 = 1,
        ignoreIdempotencyKeys: Bool = false
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.latency = latency
        self.failBeforeRate = failBeforeRate
        self.chargeThenFailRate = chargeThenFailRate
        self.chargeThenFail = chargeThenFail
        self.slowRate = slowRate
        self.slow = slow
        self.stallRate = stallRate
        self.stall = stall
        self.declineRate = declineRate
        self.absurdRetryAfterRate = absurdRetryAfterRate
        self.transient4xxRate = transient4xxRate
        self.lookupFailRate = lookupFailRate
        self.seed = seed
        self.ignoreIdempotencyKeys = ignoreIdempotencyKeys
    }

    /// Throws the first setting out of range; `ProcessorDouble.start` calls it too.
    public func validate() throws(ProcessorDoubleSettingsError) {
        guard (0...65_535).contains(port) else { throw .init("port must be 0…65535, got \(port)") }
        let rates = [
            ("fail-before-rate", failBeforeRate), ("charge-then-fail-rate", chargeThenFailRate),
            ("slow-rate", slowRate), ("decline-rate", declineRate), ("stall-rate", stallRate),
            ("absurd-retry-after-rate", absurdRetryAfterRate), ("transient-4xx-rate", transient4xxRate),
            ("lookup-fail-rate", lookupFailRate),
        ]
        for (name, rate) in rates where !(0...1).contains(rate) {
            throw .init("\(name) must be a probability 0…1, got \(rate)")
        }
        guard latency >= .zero, slow >= .zero, stall >= .zero else { throw .init("latency, slow and stall must not be negative") }
        if let token {
            // A bearer token is one header value: visible ASCII, no spaces.
            guard !token.isEmpty, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .init("the token must be 1 or more visible ASCII characters without spaces")
            }
        }
    }
}

public struct ProcessorDoubleSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
