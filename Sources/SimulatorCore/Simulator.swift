import Synchronization

/// How one copy of a logical payment ended.
public enum CopyOutcome: Sendable, Hashable {
    case confirmed
    /// 402: the processor declined it, with the answer's `decline_code`. Final like a
    /// rejection, but an answer a working service gives: it does not fail the run.
    case declined(code: String?)
    /// A status that retrying cannot change (400, 401, 413, 415, 422).
    case rejected(Int)
    /// No 200 after all attempts, the retry budget, or the time limit.
    case unconfirmed(reason: String)

    /// The reason of a payment never sent because the time limit had passed.
    public static let notStarted = "not started: time limit"

    /// Whether any attempt of it reached the wire.
    var wasSent: Bool {
        if case .unconfirmed(let reason) = self { return reason != Self.notStarted }
        return true
    }
}

/// Drives the run: `clients` logical payments at a time, each sent by `duplicates`
/// copies at the same moment with the same key and body, each copy retrying on its own.
public struct Simulator: Sendable {
    public let settings: SimulatorSettings
    public let transport: any SimulatorTransport

    public init(settings: SimulatorSettings, transport: any SimulatorTransport) {
        self.settings = settings
        self.transport = transport
    }

    /// Statuses worth retrying: the server may answer differently later.
    static let retryableStatuses: Set<Int> = [409, 429, 500, 502, 503, 504]

    /// Polls every target's `readyPath` (`/readyz`) until all answer 200, or `readyTimeout` passes.
    public func waitUntilReady() async -> Bool {
        let deadline = ContinuousClock.now + settings.readyTimeout
        for target in settings.targets {
            while true {
                if let result = try? await transport.get(target + settings.readyPath, timeout: .seconds(2)), result.status == 200 { break }
                if ContinuousClock.now >= deadline { return false }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        return true
    }

    /// Runs every payment; `progress` is called from a background task with live counts.
    public func run(progress: @escaping @Sendable (ProgressSnapshot) -> Void = { _ in }, progressInterval: Duration = .seconds(5)) async -> RunResult {
        let plan = PaymentPlan.make(
            runID: settings.runID, payments: settings.payments, users: settings.users,
            amountRangeMinor: settings.amountRangeMinor, seed: settings.seed
        )
        let log = AttemptLog()
        let budget = settings.retryBudget.map { RetryBudget(maxTokens: $0.maxTokens, tokenRatio: $0.tokenRatio) }
        let start = ContinuousClock.now
        let deadline = settings.durationLimit.map { start + $0 }
        let nextTarget = SharedCounter()
        let nextPayment = SharedCounter()
        let total = plan.count

        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: progressInterval)
                guard !Task.isCancelled else { return }
                progress(ProgressSnapshot(total: total, elapsed: ContinuousClock.now - start, counts: log.progress))
            }
        }
        let outcomes = await withTaskGroup(of: [(Int, CopyOutcome, Set<String>)].self) { group in
            for clientIndex in 0..<max(1, settings.clients) {
                group.addTask {
                    var random = SeededRandom(seed: settings.seed &+ UInt64(clientIndex) &* 0x9E37_79B9)
                    var results: [(Int, CopyOutcome, Set<String>)] = []
                    while true {
                        let index = nextPayment.next()
                        guard index < total else { return results }
                        let payment = plan[index]
                        if let deadline, ContinuousClock.now >= deadline {
                            results.append((index, .unconfirmed(reason: CopyOutcome.notStarted), []))
                            log.paymentFinished()
                            continue
                        }
                        let seeds = (0..<settings.duplicates).map { _ in random.next() }
                        let copies = await withTaskGroup(of: CopyResult.self) { copies in
                            for copySeed in seeds {
                                copies.addTask {
                                    var copyRandom = SeededRandom(seed: copySeed)
                                    return await sendCopy(payment, log: log, budget: budget, start: start, deadline: deadline,
                                                          nextTarget: nextTarget, random: &copyRandom)
                                }
                            }
                            return await copies.reduce(into: [CopyResult]()) { $0.append($1) }
                        }
                        log.copiesFinished(attempts: copies.map(\.attempts))
                        let paymentIDs = copies.reduce(into: Set<String>()) { $0.formUnion($1.paymentIDs) }
                        results.append((index, Self.combine(copies.map(\.outcome)), paymentIDs))
                        log.paymentFinished()
                    }
                }
            }
            let none = (outcome: CopyOutcome.unconfirmed(reason: CopyOutcome.notStarted), paymentIDs: Set<String>())
            return await group.reduce(into: [(outcome: CopyOutcome, paymentIDs: Set<String>)](repeating: none, count: total)) { all, results in
                for (index, outcome, paymentIDs) in results { all[index] = (outcome, paymentIDs) }
            }
        }
        reporter.cancel()
        return RunResult(
            plan: plan, outcomes: outcomes.map(\.outcome), paymentIDs: outcomes.map(\.paymentIDs), attempts: log.all,
            copyAttempts: log.copyAttempts, retryCauses: log.retryCauses, duration: ContinuousClock.now - start
        )
    }

    /// A logical payment is confirmed when any of its copies got a 200, declined when
    /// none did and one got a 402.
    static func combine(_ copies: [CopyOutcome]) -> CopyOutcome {
        if copies.contains(.confirmed) { return .confirmed }
        if let declined = copies.first(where: { if case .declined = $0 { true } else { false } }) { return declined }
        if let rejected = copies.first(where: { if case .rejected = $0 { true } else { false } }) { return rejected }
        return copies.first ?? .unconfirmed(reason: "no copy sent")
    }

    private func sendCopy(
        _ payment: LogicalPayment,
        log: AttemptLog,
        budget: RetryBudget?,
        start: ContinuousClock.Instant,
        deadline: ContinuousClock.Instant?,
        nextTarget: SharedCounter,
        random: inout SeededRandom
    ) async -> CopyResult {
        let body = Array(payment.body.utf8)
        // Every answer that names the payment (200, 402, 503 outcome-unknown) says which
        // payment_id the server gave this key; normally one, the same for every copy.
        var paymentIDs: Set<String> = []
        var previousDelay = settings.backoff.base
        var attempt = 0
        while true {
            attempt += 1
            let target = settings.targets[nextTarget.next() % settings.targets.count]
            let sent = ContinuousClock.now
            var retryAfter: Duration?
            var replayed = false
            let outcome: String
            var serverFailure = false
            var outcomeUnknown = false
            do {
                let result = try await transport.post(target + "/pay", body: body, timeout: settings.attemptTimeout)
                let answer = PaymentAnswer(result.body)
                if let paymentID = answer.paymentID { paymentIDs.insert(paymentID) }
                outcome = String(result.status)
                retryAfter = result.retryAfter
                replayed = result.replayed
                serverFailure = result.status >= 500
                outcomeUnknown = answer.problemType == PaymentAnswer.outcomeUnknown
                if result.status == 200 {
                    log.append(record(sent: sent, start: start, outcome: outcome, retry: attempt > 1, replayed: replayed))
                    budget?.recordSuccess()
                    return CopyResult(outcome: .confirmed, attempts: attempt, paymentIDs: paymentIDs)
                }
                if result.status == 402 {
                    // The service worked: the processor said no. Not a failure for the budget.
                    log.append(record(sent: sent, start: start, outcome: outcome, retry: attempt > 1, replayed: replayed))
                    budget?.recordSuccess()
                    return CopyResult(outcome: .declined(code: answer.declineCode), attempts: attempt, paymentIDs: paymentIDs)
                }
                if !Self.retryableStatuses.contains(result.status) {
                    log.append(record(sent: sent, start: start, outcome: outcome, retry: attempt > 1, replayed: false))
                    return CopyResult(outcome: .rejected(result.status), attempts: attempt, paymentIDs: paymentIDs)
                }
            } catch {
                outcome = error.label
                serverFailure = true
            }
            log.append(record(sent: sent, start: start, outcome: outcome, retry: attempt > 1, replayed: false, outcomeUnknown: outcomeUnknown))
            // 409 and 429 are the server working as designed, not failing: only 5xx,
            // timeouts and broken connections spend the retry budget.
            if serverFailure { budget?.recordFailure() }

            guard attempt < settings.maxAttempts else {
                return CopyResult(outcome: .unconfirmed(reason: "attempts exhausted"), attempts: attempt, paymentIDs: paymentIDs)
            }
            if let budget, !budget.allowsRetry {
                return CopyResult(outcome: .unconfirmed(reason: "retry budget exhausted"), attempts: attempt, paymentIDs: paymentIDs)
            }
            var delay = settings.backoff.delay(retry: attempt, previous: previousDelay, using: &random)
            if settings.honourRetryAfter, let retryAfter { delay = max(delay, retryAfter) }
            previousDelay = delay
            if let deadline, ContinuousClock.now + delay >= deadline {
                return CopyResult(outcome: .unconfirmed(reason: "time limit"), attempts: attempt, paymentIDs: paymentIDs)
            }
            log.retrying(after: outcome)
            try? await Task.sleep(for: delay)
        }
    }

    private func record(
        sent: ContinuousClock.Instant, start: ContinuousClock.Instant, outcome: String, retry: Bool, replayed: Bool, outcomeUnknown: Bool = false
    ) -> AttemptRecord {
        AttemptRecord(
            startMs: (sent - start).totalMilliseconds,
            latencyMs: (ContinuousClock.now - sent).totalMilliseconds,
            outcome: outcome,
            isRetry: retry,
            replayed: replayed,
            outcomeUnknown: outcomeUnknown
        )
    }
}

/// How one copy ended, after how many attempts, and the payment ids its answers named.
struct CopyResult: Sendable {
    let outcome: CopyOutcome
    let attempts: Int
    let paymentIDs: Set<String>
}

/// Live counts for the progress line.
public struct ProgressSnapshot: Sendable {
    public let total: Int
    public let elapsed: Duration
    public let counts: (done: Int, attempts: Int, retries: Int, errors: Int)

    public var line: String {
        let seconds = max(elapsed.totalMilliseconds / 1000, 0.001)
        return "progress: \(counts.done)/\(total) payments, \(counts.attempts) requests (\(Int(Double(counts.attempts) / seconds))/s), "
            + "\(counts.retries) retries, \(counts.errors) non-200 answers, \(Int(seconds)) s"
    }
}

/// What a run produced, before verification.
public struct RunResult: Sendable {
    public let plan: [LogicalPayment]
    public let outcomes: [CopyOutcome]
    /// Per payment of the plan, the `payment_id`s its answers carried (200 receipts, 402
    /// declines, 503 outcome-unknown): one for a working server, none if no answer named it.
    public let paymentIDs: [Set<String>]
    public let attempts: [AttemptRecord]
    /// How many attempts each copy of each payment made.
    public let copyAttempts: [Int]
    /// Why retries were sent: the answer (or error) of the attempt before each.
    public let retryCauses: [String: Int]
    public let duration: Duration
}

/// A counter shared by all clients: which payment is next, which target is next.
final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)

    func next() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
