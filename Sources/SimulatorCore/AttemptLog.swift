import Synchronization

/// One HTTP attempt, as the report needs it.
public struct AttemptRecord: Sendable, Hashable {
    /// Milliseconds since the run started.
    public let startMs: Double
    public let latencyMs: Double
    /// `"200"`, `"503"`, … or `"timeout"`, `"connection_error"`.
    public let outcome: String
    public let isRetry: Bool
    /// A 200 (or 402) answered from the stored response of an earlier request.
    public let replayed: Bool
    /// A 503 `/problems/outcome-unknown`: the processor may or may not have charged.
    public var outcomeUnknown = false
}

/// Collects attempts from all clients. Appends are short critical sections; the report
/// reads the whole log once, at the end.
final class AttemptLog: Sendable {
    private let records = Mutex<[AttemptRecord]>([])
    private let counters = Mutex<(done: Int, retries: Int, errors: Int)>((0, 0, 0))

    func append(_ record: AttemptRecord) {
        records.withLock { $0.append(record) }
        counters.withLock {
            if record.isRetry { $0.retries += 1 }
            if record.outcome != "200" { $0.errors += 1 }
        }
    }

    private let attemptsPerCopy = Mutex<[Int]>([])
    private let causes = Mutex<[String: Int]>([:])

    /// A retry is about to be sent because an attempt answered `outcome`.
    func retrying(after outcome: String) {
        causes.withLock { $0[outcome, default: 0] += 1 }
    }

    var retryCauses: [String: Int] { causes.withLock { $0 } }

    func copiesFinished(attempts: [Int]) {
        attemptsPerCopy.withLock { $0.append(contentsOf: attempts) }
    }

    var copyAttempts: [Int] { attemptsPerCopy.withLock { $0 } }

    func paymentFinished() {
        counters.withLock { $0.done += 1 }
    }

    var all: [AttemptRecord] { records.withLock { $0 } }

    var progress: (done: Int, attempts: Int, retries: Int, errors: Int) {
        let attempts = records.withLock { $0.count }
        return counters.withLock { (done: $0.done, attempts: attempts, retries: $0.retries, errors: $0.errors) }
    }
}
