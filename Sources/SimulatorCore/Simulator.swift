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
    /// Its client gave up after a 503 `/problems/outcome-unknown`
    /// (`--abandon-after-unknown-rate`). Not unconfirmed: the server's reconciler settles
    /// it, and verification checks it against the ledger and the processor (charged in
    /// both, or in neither), not against an answer the client never waited for.
    case abandoned

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
    /// The `traceparent` of each attempt: one trace per logical payment.
    public let trace: PaymentTrace

    public init(settings: SimulatorSettings, transport: any SimulatorTransport, trace: PaymentTrace = PaymentTrace()) {
        self.settings = settings
        self.transport = transport
        self.trace = trace
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
        let outcomes = await withTaskGroup(of: [PaymentResult].self) { group in
            for clientIndex in 0..<max(1, settings.clients) {
                group.addTask {
                    var random = SeededRandom(seed: settings.seed &+ UInt64(clientIndex) &* 0x9E37_79B9)
                    var results: [PaymentResult] = []
                    while true {
                        let index = nextPayment.next()
                        guard index < total else { return results }
                        let payment = plan[index]
                        if let deadline, ContinuousClock.now >= deadline {
                            results.append(PaymentResult(index: index))
                            log.paymentFinished()
                            continue
                        }
                        let seeds = (0..<settings.duplicates).map { _ in random.next() }
                        // Shared by the payment's copies: one client, one decision.
                        let afterUnknown = AfterUnknownState(AfterUnknownPlan.draw(index: index, settings: settings))
                        let copies = await withTaskGroup(of: CopyResult.self) { copies in
                            for copySeed in seeds {
                                copies.addTask {
                                    var copyRandom = SeededRandom(seed: copySeed)
                                    return await sendCopy(payment, afterUnknown: afterUnknown, log: log, budget: budget, start: start,
                                                          deadline: deadline, nextTarget: nextTarget, random: &copyRandom)
                                }
                            }
                            return await copies.reduce(into: [CopyResult]()) { $0.append($1) }
                        }
                        log.copiesFinished(attempts: copies.map(\.attempts))
                        let paymentIDs = copies.reduce(into: Set<String>()) { $0.formUnion($1.paymentIDs) }
                        results.append(PaymentResult(index: index, outcome: Self.combine(copies.map(\.outcome)), paymentIDs: paymentIDs,
                                                     afterUnknown: afterUnknown.result))
                        log.paymentFinished()
                    }
                }
            }
            return await group.reduce(into: (0..<total).map { PaymentResult(index: $0) }) { all, results in
                for result in results { all[result.index] = result }
            }
        }
        reporter.cancel()
        return RunResult(
            plan: plan, outcomes: outcomes.map(\.outcome), paymentIDs: outcomes.map(\.paymentIDs), attempts: log.all,
            copyAttempts: log.copyAttempts, retryCauses: log.retryCauses, duration: ContinuousClock.now - start,
            afterUnknown: outcomes.map(\.afterUnknown), reconcileWait: settings.reconcileWait,
            reconcilePollInterval: settings.reconcilePollInterval
        )
    }

    /// One logical payment's end, as its client task saw it.
    private struct PaymentResult: Sendable {
        var index: Int
        var outcome = CopyOutcome.unconfirmed(reason: CopyOutcome.notStarted)
        var paymentIDs: Set<String> = []
        var afterUnknown = PaymentAfterUnknown()
    }

    /// A logical payment is confirmed when any of its copies got a 200, declined when
    /// none did and one got a 402; abandoned when its client gave up after an
    /// outcome-unknown and no copy got a final answer.
    static func combine(_ copies: [CopyOutcome]) -> CopyOutcome {
        if copies.contains(.confirmed) { return .confirmed }
        if let declined = copies.first(where: { if case .declined = $0 { true } else { false } }) { return declined }
        if let rejected = copies.first(where: { if case .rejected = $0 { true } else { false } }) { return rejected }
        if copies.contains(.abandoned) { return .abandoned }
        return copies.first ?? .unconfirmed(reason: "no copy sent")
    }

    private func sendCopy(
        _ payment: LogicalPayment,
        afterUnknown: AfterUnknownState,
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
            // Sent after an outcome-unknown of this payment: a 500 "nothing was charged"
            // to it would be a claim the server cannot make (`processor_failed_after_unknown`).
            let afterAnUnknown = afterUnknown.unknownSeen
            let sent = ContinuousClock.now
            var retryAfter: Duration?
            var replayed = false
            let outcome: String
            var serverFailure = false
            var outcomeUnknown = false
            do {
                let result = try await transport.post(
                    target + "/pay", body: body, timeout: settings.attemptTimeout, traceparent: trace.traceparent(of: payment)
                )
                let answer = PaymentAnswer(result.body)
                if let paymentID = answer.paymentID { paymentIDs.insert(paymentID) }
                outcome = String(result.status)
                retryAfter = result.retryAfter
                replayed = result.replayed
                serverFailure = result.status >= 500
                outcomeUnknown = answer.problemType == PaymentAnswer.outcomeUnknown
                if afterAnUnknown, result.status == 500, answer.problemType == PaymentAnswer.processorFailed {
                    afterUnknown.processorFailedAnswered()
                }
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

            if outcomeUnknown {
                afterUnknown.unknownAnswered()
                // One retry with the same key and another amount, once per payment.
                if afterUnknown.plan.changesAmount, afterUnknown.claimAmountChange() {
                    let probe = await sendAmountChange(payment, attempt: attempt, retryAfter: retryAfter, log: log, start: start, deadline: deadline,
                                                       nextTarget: nextTarget, previousDelay: &previousDelay, random: &random)
                    afterUnknown.amountChanged(probe)
                }
                if afterUnknown.plan.abandons {
                    afterUnknown.abandon()
                    return CopyResult(outcome: .abandoned, attempts: attempt, paymentIDs: paymentIDs)
                }
            }
            // Another copy of the payment gave up after an outcome-unknown: so does this one.
            if afterUnknown.abandoned {
                return CopyResult(outcome: .abandoned, attempts: attempt, paymentIDs: paymentIDs)
            }
            guard attempt < settings.maxAttempts else {
                return CopyResult(outcome: .unconfirmed(reason: "attempts exhausted"), attempts: attempt, paymentIDs: paymentIDs)
            }
            if let budget, !budget.allowsRetry {
                return CopyResult(outcome: .unconfirmed(reason: "retry budget exhausted"), attempts: attempt, paymentIDs: paymentIDs)
            }
            guard let delay = retryDelay(retry: attempt, retryAfter: retryAfter, deadline: deadline, previous: &previousDelay, random: &random) else {
                return CopyResult(outcome: .unconfirmed(reason: "time limit"), attempts: attempt, paymentIDs: paymentIDs)
            }
            log.retrying(after: outcome)
            try? await Task.sleep(for: delay)
            if afterUnknown.abandoned {
                return CopyResult(outcome: .abandoned, attempts: attempt, paymentIDs: paymentIDs)
            }
        }
    }

    /// The wait before retry number `retry`: the back-off, at least the server's
    /// `Retry-After` when honoured; nil when it would end past the time limit.
    private func retryDelay(
        retry: Int, retryAfter: Duration?, deadline: ContinuousClock.Instant?, previous: inout Duration, random: inout SeededRandom
    ) -> Duration? {
        var delay = settings.backoff.delay(retry: retry, previous: previous, using: &random)
        if settings.honourRetryAfter, let retryAfter { delay = max(delay, retryAfter) }
        previous = delay
        if let deadline, ContinuousClock.now + delay >= deadline { return nil }
        return delay
    }

    /// Answers after which the probe is sent again: they say nothing about the amount
    /// (the key in flight, a rate limit, the store unavailable, no answer at all).
    static let probeRetryableStatuses: Set<Int> = [409, 429, 502, 503, 504]

    /// After an outcome-unknown: the same key with another amount, after the retry's
    /// wait. The server must refuse it with 422 (`idempotency-key-reused`); any other
    /// final answer (a 200, a 402, a 500, a 503 outcome-unknown: it went to the
    /// processor with it) is a failure of the run. Sent again, up to `--max-attempts`
    /// times, only after answers that say nothing about the amount. Nil when the time
    /// limit left no room to send it.
    private func sendAmountChange(
        _ payment: LogicalPayment,
        attempt: Int,
        retryAfter: Duration?,
        log: AttemptLog,
        start: ContinuousClock.Instant,
        deadline: ContinuousClock.Instant?,
        nextTarget: SharedCounter,
        previousDelay: inout Duration,
        random: inout SeededRandom
    ) async -> AmountChangeProbe? {
        let changed = LogicalPayment(index: payment.index, userID: payment.userID, idempotencyKey: payment.idempotencyKey,
                                     amountMinor: AmountChangeProbe.changedAmount(payment), currency: payment.currency)
        let body = Array(changed.body.utf8)
        var retryAfter = retryAfter
        var lastAnswer = "not sent"
        var previousOutcome = "503"
        for send in 1...max(1, settings.maxAttempts) {
            guard let delay = retryDelay(retry: attempt + send - 1, retryAfter: retryAfter, deadline: deadline, previous: &previousDelay, random: &random) else {
                return send == 1 ? nil : AmountChangeProbe(amountMinor: changed.amountMinor, answer: lastAnswer, conclusive: false, sends: send - 1)
            }
            log.retrying(after: previousOutcome)
            try? await Task.sleep(for: delay)
            let target = settings.targets[nextTarget.next() % settings.targets.count]
            let sent = ContinuousClock.now
            do {
                let result = try await transport.post(
                    target + "/pay", body: body, timeout: settings.attemptTimeout, traceparent: trace.traceparent(of: payment)
                )
                let answer = PaymentAnswer(result.body)
                let unknown = answer.problemType == PaymentAnswer.outcomeUnknown
                previousOutcome = String(result.status)
                lastAnswer = previousOutcome + (unknown ? " outcome-unknown" : "")
                log.append(record(sent: sent, start: start, outcome: previousOutcome, retry: true, replayed: result.replayed, outcomeUnknown: unknown))
                if unknown || !Self.probeRetryableStatuses.contains(result.status) {
                    return AmountChangeProbe(amountMinor: changed.amountMinor, answer: lastAnswer, conclusive: true, sends: send)
                }
                retryAfter = result.retryAfter
            } catch {
                previousOutcome = error.label
                lastAnswer = error.label
                log.append(record(sent: sent, start: start, outcome: previousOutcome, retry: true, replayed: false))
                retryAfter = nil
            }
        }
        return AmountChangeProbe(amountMinor: changed.amountMinor, answer: lastAnswer, conclusive: false, sends: max(1, settings.maxAttempts))
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

/// What a payment's client does after a 503 outcome-unknown. Drawn from the seed and
/// the payment's index alone, not from the client that happens to take the payment, so
/// a seed picks the same payments in every run; both numbers are always drawn, so one
/// rate never changes which payments the other picks.
struct AfterUnknownPlan: Sendable, Hashable {
    var changesAmount = false
    var abandons = false

    static func draw(index: Int, settings: SimulatorSettings) -> AfterUnknownPlan {
        var random = SeededRandom(seed: (settings.seed ^ 0x0AF7_E2D5_C0DE_0001) &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let change = Double.random(in: 0..<1, using: &random)
        let abandon = Double.random(in: 0..<1, using: &random)
        return AfterUnknownPlan(changesAmount: change < settings.changeAmountAfterUnknownRate,
                                abandons: abandon < settings.abandonAfterUnknownRate)
    }
}

/// The retry with the same key and another amount a payment's client sent after an
/// outcome-unknown (`--change-amount-after-unknown-rate`), and how it was answered.
public struct AmountChangeProbe: Sendable, Hashable {
    /// The amount it sent instead, in minor units.
    public let amountMinor: Int64
    /// The last answer: `"422"`, `"200"`, `"500"`, `"503 outcome-unknown"`, `"timeout"`, …
    public let answer: String
    /// Whether that answer says something about the amount; false: only answers that do
    /// not (409, 429, 502–504, no answer) came, until the attempts or the time ran out.
    public let conclusive: Bool
    /// How many times it was sent.
    public let sends: Int

    /// 422 `idempotency-key-reused`: what the server must answer.
    public var refused: Bool { conclusive && answer == "422" }

    /// One minor unit more, or less at the server's maximum: another amount the server
    /// would accept on a new key.
    static func changedAmount(_ payment: LogicalPayment) -> Int64 {
        payment.amountMinor < PaymentPlan.maximumMinor(payment.currency) ? payment.amountMinor + 1 : payment.amountMinor - 1
    }
}

/// What happened to one payment after an outcome-unknown.
public struct PaymentAfterUnknown: Sendable, Hashable {
    /// Its amount-change retry, when it sent one.
    public var amountChange: AmountChangeProbe?
    /// Answers 500 `/problems/processor-failed` ("nothing was charged") to requests sent
    /// after an outcome-unknown of the payment: a claim the server cannot make.
    public var processorFailed = 0
}

/// A payment's after-unknown state, shared by its copies.
final class AfterUnknownState: Sendable {
    let plan: AfterUnknownPlan
    private struct State {
        var unknownSeen = false
        var amountChangeClaimed = false
        var abandoned = false
        var result = PaymentAfterUnknown()
    }
    private let state = Mutex(State())

    init(_ plan: AfterUnknownPlan) {
        self.plan = plan
    }

    var unknownSeen: Bool { state.withLock { $0.unknownSeen } }
    var abandoned: Bool { state.withLock { $0.abandoned } }
    var result: PaymentAfterUnknown { state.withLock { $0.result } }

    func unknownAnswered() { state.withLock { $0.unknownSeen = true } }
    func abandon() { state.withLock { $0.abandoned = true } }
    func processorFailedAnswered() { state.withLock { $0.result.processorFailed += 1 } }

    /// True for the first copy that asks: one amount change per payment.
    func claimAmountChange() -> Bool {
        state.withLock { state in
            defer { state.amountChangeClaimed = true }
            return !state.amountChangeClaimed
        }
    }

    func amountChanged(_ probe: AmountChangeProbe?) {
        state.withLock { $0.result.amountChange = probe }
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
    /// Per payment of the plan: its amount change and the "nothing charged" answers it
    /// got after an outcome-unknown.
    public let afterUnknown: [PaymentAfterUnknown]
    /// `--reconcile-wait-seconds` and the poll's interval, for the verification.
    public let reconcileWait: Duration
    public let reconcilePollInterval: Duration
}

/// A counter shared by all clients: which payment is next, which target is next.
final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)

    func next() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
