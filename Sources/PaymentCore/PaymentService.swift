import NIOCore
import NIOPosix
import Tracing

/// Runs the payment flow: begin → process → complete, or abort on a transient failure.
///
/// It carries out what `PaymentFlow` decides, on one event loop, with futures: the
/// server's channel handler calls `pay(_:on:)` on its socket's loop, and a store whose
/// connections live on that loop (Redis) answers there, so a payment costs no task and
/// no thread hop. Exactly once holds because `complete` stores the response and charges
/// the ledger in one atomic step that only the lease holder can take.
public struct PaymentService: Sendable {
    public struct Settings: Sendable {
        /// How long a key stays locked without a watchdog extension (`LOCK_LEASE_MS`).
        public var lease: Duration
        /// How long a completed response is kept for replays (`IDEMPOTENCY_TTL_SECONDS`).
        public var retention: Duration
        /// The per-user bucket, nil when disabled.
        public var userRateLimit: RateLimitPolicy?
        /// Extends the lease every third of it while the processor runs. Only tests turn
        /// it off, to prove that work which outlives its lease cannot commit.
        public var watchdog: Bool
        /// The HMAC key of payment ids and processor keys (`PROCESSOR_KEY_SECRET_FILE`).
        public var identitySecret: PaymentIdentity.Secret
        /// The longest the processor's work may hold the key (the processor's deadline
        /// plus a margin); after it the attempt is given up as unknown and its lease
        /// released. nil: as long as the work runs (the simulated processor).
        public var maximumWork: Duration?
        /// How long after an unknown outcome the reconciler first looks (`RECONCILE_DELAY_MS`).
        public var reconcileDelay: Duration

        public init(
            lease: Duration, retention: Duration, userRateLimit: RateLimitPolicy?, watchdog: Bool = true,
            identitySecret: PaymentIdentity.Secret = .unset, maximumWork: Duration? = nil, reconcileDelay: Duration = .seconds(10)
        ) {
            self.lease = lease
            self.retention = retention
            self.userRateLimit = userRateLimit
            self.watchdog = watchdog
            self.identitySecret = identitySecret
            self.maximumWork = maximumWork
            self.reconcileDelay = reconcileDelay
        }
    }

    public let store: any IdempotencyStore
    public let processor: any PaymentProcessor
    public let globalRateLimiter: (any RateLimiter)?
    /// The quorum lock of Redlock mode, taken before `begin`; nil: the store's lock only.
    public let keyLock: (any KeyLock)?
    /// With replicas required: whether the key's shard has them now; nil: none required.
    public let replicaGate: (any ReplicaGate)?
    public let settings: Settings
    /// Where `pay(_:)` (the async entry) runs the flow: the loop it is called on if any.
    private let eventLoopGroup: any EventLoopGroup

    public init(
        store: any IdempotencyStore,
        processor: any PaymentProcessor,
        globalRateLimiter: (any RateLimiter)?,
        keyLock: (any KeyLock)? = nil,
        replicaGate: (any ReplicaGate)? = nil,
        settings: Settings,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.store = store
        self.processor = processor
        self.globalRateLimiter = globalRateLimiter
        self.keyLock = keyLock
        self.replicaGate = replicaGate
        self.settings = settings
        self.eventLoopGroup = eventLoopGroup
    }

    /// One payment, for callers in async code (tests, tools): the same flow as `pay(_:on:)`.
    public func pay(_ request: PaymentRequest) async -> PaymentOutcome {
        // The flow's future never fails: every port failure is an outcome.
        (try? await pay(request, on: eventLoopGroup.any()).get()) ?? .unavailable("the payment flow was cut short")
    }

    /// One payment on `eventLoop`: every step's callback runs there, and the future
    /// completes there. It never fails: every failure of a port is an outcome.
    ///
    /// `span`: the request's span, when tracing is on. Each port is called with its
    /// context as `ServiceContext.current`, so the port's own spans (a Redis script's, the
    /// HTTP client's) are its children and the processor receives its trace (the stores
    /// only when the span is sampled); the flow's events (lease extended, taken over) are
    /// added to it. nil: nothing is bound.
    public func pay(_ request: PaymentRequest, on eventLoop: any EventLoop, span: (any Span)? = nil) -> EventLoopFuture<PaymentOutcome> {
        // One promise for the whole payment: each step's answer feeds the flow from the
        // port's own future, with no future of our own in between.
        let answer = eventLoop.makePromise(of: PaymentOutcome.self)
        var flow = PaymentFlow(
            request: request, owner: Self.randomToken(), settings: settings,
            hasGlobalLimiter: globalRateLimiter != nil, hasKeyLock: keyLock != nil
        )
        let action = flow.start(replicaShortfall: replicaGate?.shortfall(for: request))
        run(flow, action, on: eventLoop, answering: Answer(promise: answer, span: span))
        return answer.futureResult
    }

    /// Where a payment's outcome goes, and its span.
    private struct Answer: Sendable {
        let promise: EventLoopPromise<PaymentOutcome>
        let span: (any Span)?

        /// Calls a store, a limiter or a lock with the span's context as the current one,
        /// so their spans (a Redis command's) are the payment's children. Not when the
        /// sampler left the payment out (`isRecording` false): those spans would be
        /// dropped anyway, and making them is most of what an unsampled payment costs.
        func calling<Value>(_ port: () -> Value) -> Value {
            guard let span, span.isRecording else { return port() }
            return ServiceContext.withValue(span.context, operation: port)
        }

        /// Calls the processor with the span's context as the current one, sampled or
        /// not: the processor receives the payment's trace id either way (W3C propagates
        /// an unsampled trace too, with its sampled flag off).
        func callingProcessor<Value>(_ port: () -> Value) -> Value {
            guard let span else { return port() }
            return ServiceContext.withValue(span.context, operation: port)
        }
    }

    /// Carries out `action`, feeds its answer to the flow, and so on until `finish`.
    private func run(_ flow: PaymentFlow, _ action: PaymentFlow.Action, on loop: any EventLoop, answering answer: Answer) {
        let request = flow.request
        switch action {
        case .acquireGlobalLimit:
            guard let globalRateLimiter else { preconditionFailure("the flow asked for a limiter it was told is absent") }
            step(flow, answer.calling { globalRateLimiter.acquire(on: loop) }, on: loop, answer) { $0.globalLimitDecided($1.mapError(PortError.init)) }
        case .acquireKeyLock:
            guard let keyLock else { preconditionFailure("the flow asked for a lock it was told is absent") }
            let (owner, ttl) = (flow.owner, settings.lease)
            let acquired = answer.calling { loop.makeFutureWithTask { await keyLock.acquire(request, owner: owner, ttl: ttl) } }
            step(flow, acquired, on: loop, answer) { flow, result in
                flow.keyLockAnswered((try? result.get()) ?? .unavailable("the lock request was cut short"))
            }
        case .begin:
            let begun = answer.calling {
                store.begin(request, owner: flow.owner, lease: settings.lease, retention: settings.retention, rateLimit: settings.userRateLimit, on: loop)
            }
            step(flow, begun, on: loop, answer) { flow, result in
                if case .success(.redrive) = result {
                    // An earlier attempt's unknown record, taken over to be charged again.
                    answer.span?.addEvent(SpanEvent(name: "taken over", attributes: ["payment.earlier_outcome": "unknown"]))
                }
                return flow.begun(result.mapError(PortError.init))
            }
        case .index(let identity):
            let indexed = answer.calling { store.index(request, identity: identity, retention: settings.retention, on: loop) }
            step(flow, indexed, on: loop, answer) { $0.indexed($1.mapError(PortError.init)) }
        case .confirmReplay:
            step(flow, answer.calling { store.confirmReplay(request, on: loop) }, on: loop, answer) { $0.replayConfirmed($1.mapError(PortError.init)) }
        case .charge(let charge, let lease):
            let charged = keptAlive(charge, lease: lease, holdsQuorumLock: flow.holdsQuorumLock, on: loop, answer: answer)
            step(flow, charged, on: loop, answer) { flow, result in
                flow.charged((try? result.get()) ?? .unknown("the processor's answer was cut short"))
            }
        case .complete(let lease, let response, let charge, let identity):
            let completed = answer.calling {
                store.complete(request, lease: lease, response: response, charge: charge, identity: identity, retention: settings.retention, on: loop)
            }
            step(flow, completed, on: loop, answer) { $0.completed($1.mapError(PortError.init)) }
        case .markUnknown(let lease, let identity, let followUp):
            let marked = answer.calling {
                store.markUnknown(request, lease: lease, identity: identity, retention: settings.retention, followUp: followUp, on: loop)
            }
            step(flow, marked, on: loop, answer) { $0.markedUnknown((try? $1.get()) ?? false) }
        case .abort(let lease):
            step(flow, answer.calling { store.abort(request, lease: lease, on: loop) }, on: loop, answer) { $0.aborted((try? $1.get()) ?? false) }
        case .finish(let outcome, let abandon):
            if abandon {
                // Not awaited; on the same connection it runs after the `begin` it follows.
                answer.calling { store.abandon(request, owner: flow.owner, on: loop) }.whenComplete { _ in }
            }
            guard flow.holdsQuorumLock, let keyLock else {
                answer.promise.succeed(outcome)
                return
            }
            let owner = flow.owner
            answer.calling { loop.makeFutureWithTask { await keyLock.release(request, owner: owner) } }.whenComplete { _ in
                answer.promise.succeed(outcome)
            }
        }
    }

    /// Once `future` completes, runs the flow on, on `loop`, with what `advance` makes of it.
    private func step<Reply: Sendable>(
        _ flow: PaymentFlow, _ future: EventLoopFuture<Reply>, on loop: any EventLoop, _ answer: Answer,
        _ advance: @escaping @Sendable (inout PaymentFlow, Result<Reply, any Error>) -> PaymentFlow.Action
    ) {
        future.hop(to: loop).whenComplete { result in
            var flow = flow
            let action = advance(&flow, result)
            self.run(flow, action, on: loop, answering: answer)
        }
    }

    /// The processor's answer to `charge`, while a watchdog on `loop`'s scheduled tasks
    /// pushes the lease (and the quorum lock, if held) forward every third of it; for at
    /// most `maximumWork`: then the answer is unknown, so no processor can hold a key for
    /// longer. Whichever comes first answers; the other is ignored.
    private func keptAlive(
        _ charge: ProcessorCharge, lease: Lease, holdsQuorumLock: Bool, on loop: any EventLoop, answer payment: Answer
    ) -> EventLoopFuture<ProcessorResult> {
        let answer = FirstAnswer<ProcessorResult>(on: loop)
        payment.callingProcessor { processor.charge(charge, on: loop) }.hop(to: loop).whenComplete { result in
            answer.give((try? result.get()) ?? .unknown("the processor's answer was cut short"))
        }
        if let maximumWork = settings.maximumWork {
            let limit = loop.scheduleTask(in: TimeAmount(maximumWork)) {
                answer.give(.unknown("no answer within the work limit of \(maximumWork)"))
            }
            answer.future.whenComplete { _ in limit.cancel() }
        }
        guard settings.watchdog else { return answer.future }
        let request = charge.request
        let (store, keyLock, leaseDuration) = (self.store, self.keyLock, settings.lease)
        let interval = TimeAmount(leaseDuration / 3)
        let watchdog = loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { task -> EventLoopFuture<Void> in
            // No majority for the quorum lock: stop; the work is given up once it ends.
            let quorum: EventLoopFuture<Bool>
            if holdsQuorumLock, let keyLock {
                quorum = payment.calling { loop.makeFutureWithTask { await keyLock.extend(request, owner: lease.owner, ttl: leaseDuration) != nil } }
            } else {
                quorum = loop.makeSucceededFuture(true)
            }
            return quorum.flatMap { extended -> EventLoopFuture<Bool> in
                guard extended else { return loop.makeSucceededFuture(false) }
                // A failed extension is not fatal here: `complete` checks the lease.
                return payment.calling { store.extend(request, lease: lease, to: leaseDuration, on: loop) }.map { extended in
                    if extended { payment.span?.addEvent("lease extended") }
                    return extended
                }.recover { _ in true }
            }.map { keep in
                if !keep { task.cancel() }
            }
        }
        answer.future.whenComplete { _ in watchdog.cancel() }
        return answer.future
    }

    /// A lease owner's token: unique, not secret (it never leaves the server).
    public static func randomToken() -> String {
        UniqueToken.next()
    }

    public static func timestamp() -> String {
        Timestamp.now()
    }
}

/// The first of several answers, on one loop; later ones are dropped.
private final class FirstAnswer<Value: Sendable>: Sendable {
    private let promise: EventLoopPromise<Value>
    private let given: NIOLoopBoundBox<Bool>

    init(on loop: any EventLoop) {
        promise = loop.makePromise()
        given = NIOLoopBoundBox(false, eventLoop: loop)
    }

    var future: EventLoopFuture<Value> { promise.futureResult }

    /// Called on the loop only.
    func give(_ value: Value) {
        guard !given.value else { return }
        given.value = true
        promise.succeed(value)
    }
}
