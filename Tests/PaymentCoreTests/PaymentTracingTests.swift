import InMemoryTracing
import NIOCore
import NIOPosix
import PaymentCore
import PaymentStoreTesting
import Synchronization
import Testing
import Tracing

/// What the driver and the reconciler put in a trace: the ports are called inside the
/// payment's span (so theirs are its children and the processor gets its trace), and
/// the events an operator follows a payment by.
struct PaymentTracingTests {
    let clock = ManualClock()
    let store: InMemoryPaymentStore
    let tracer = InMemoryTracer()

    init() {
        store = InMemoryPaymentStore(clock: clock)
    }

    @Test func thePortsAreCalledInsideThePaymentsSpanAndOutsideAnyWithoutOne() async throws {
        let processor = ContextRecordingProcessor(.charged(chargeID: "ch_1"))
        let service = makeService(processor)
        let span = tracer.startSpan("POST /pay", ofKind: .server)
        let outcome = try await service.pay(try Self.payment(key: "traced"), on: MultiThreadedEventLoopGroup.singleton.any(), span: span).get()
        #expect(outcome.label == "succeeded")
        let seen = try #require(processor.contexts.first ?? nil, "the processor was called with the payment's span current")
        #expect(seen.traceID == span.context.inMemorySpanContext?.traceID)
        #expect(seen.spanID == span.context.inMemorySpanContext?.spanID)

        _ = try await service.pay(try Self.payment(key: "untraced"), on: MultiThreadedEventLoopGroup.singleton.any()).get()
        #expect(processor.contexts.count == 2)
        #expect(processor.contexts.last == .some(nil), "no span, nothing bound")
    }

    @Test func anUnsampledPaymentMakesNoPortSpansButTheProcessorStillGetsItsTrace() async throws {
        let processor = ContextRecordingProcessor(.charged(chargeID: "ch_1"))
        let limiter = ContextRecordingLimiter()
        var context = ServiceContext.topLevel
        context.inMemorySpanContext = InMemorySpanContext(traceID: "unsampled-trace", spanID: "unsampled-span", parentSpanID: nil)
        let unsampled = NoOpTracer.NoOpSpan(context: context)
        let sampled = tracer.startSpan("POST /pay", ofKind: .server)
        let service = makeService(processor, limiter: limiter)
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        _ = try await service.pay(try Self.payment(key: "unsampled"), on: loop, span: unsampled).get()
        _ = try await service.pay(try Self.payment(key: "sampled"), on: loop, span: sampled).get()
        #expect(limiter.contexts.map { $0?.spanID } == [nil, sampled.context.inMemorySpanContext?.spanID], "the limiter only inside a sampled span")
        #expect(processor.contexts.map { $0?.traceID } == ["unsampled-trace", sampled.context.inMemorySpanContext?.traceID])
    }

    @Test func anUnknownPaymentChargedAgainIsTakenOverInItsSpan() async throws {
        let processor = ContextRecordingProcessor(.unknown("the connection dropped"), then: .charged(chargeID: "ch_2"))
        let service = makeService(processor)
        let payment = try Self.payment(key: "redriven")
        #expect(await service.pay(payment).label == "outcome_unknown")
        let span = tracer.startSpan("POST /pay", ofKind: .server)
        let outcome = try await service.pay(payment, on: MultiThreadedEventLoopGroup.singleton.any(), span: span).get()
        #expect(outcome.label == "succeeded")
        span.end()
        let finished = try #require(tracer.finishedSpans.first { $0.operationName == "POST /pay" })
        #expect(finished.events.map(\.name) == ["taken over"])
    }

    @Test func theReconcilerLooksAtEachPaymentInASpanThatSaysWhatItFound() async throws {
        let processor = ContextRecordingProcessor(.unknown("the connection dropped"))
        let payment = try Self.payment(key: "reconciled")
        #expect(await makeService(processor).pay(payment).label == "outcome_unknown")
        clock.advance(by: Self.reconcileDelay)
        processor.lookupAnswer = .charged(chargeID: "ch_3", amountMinor: payment.amountMinor, currency: payment.currency.code)
        let reconciler = Reconciler(
            queue: store, store: store, processor: processor,
            settings: .init(delay: Self.reconcileDelay, interval: .seconds(1), maximumAttempts: 3, lease: .seconds(10), retention: .seconds(3600)),
            tracer: tracer
        )
        #expect(try await reconciler.pass() == [.charged])
        let span = try #require(tracer.finishedSpans.first { $0.operationName == "reconcile" })
        #expect(span.events.map(\.name) == ["taken over", "reconciled"])
        #expect(span.attributes["payment.reconcile_result"]?.toSpanAttribute() == .string("charged"))
        #expect(processor.lookupContexts.first??.spanID == span.spanID, "the lookup ran inside the reconcile span")
    }

    static let reconcileDelay = Duration.seconds(5)

    func makeService(_ processor: ContextRecordingProcessor, limiter: ContextRecordingLimiter? = nil) -> PaymentService {
        PaymentService(
            store: store, processor: processor, globalRateLimiter: limiter,
            settings: .init(lease: .seconds(10), retention: .seconds(3600), userRateLimit: nil, watchdog: false, reconcileDelay: Self.reconcileDelay)
        )
    }

    static func payment(key: String) throws -> PaymentRequest {
        PaymentRequest(userID: try UserID("tracing-user"), amountMinor: 1_000, currency: .usd, idempotencyKey: try IdempotencyKey(key))
    }

    /// Allows every payment and remembers the span context current at each call.
    final class ContextRecordingLimiter: RateLimiter {
        let policy = RateLimitPolicy(name: "global", capacity: 1_000, refillPerSecond: 1_000)
        private let seen = Mutex<[InMemorySpanContext?]>([])

        var contexts: [InMemorySpanContext?] { seen.withLock { $0 } }

        func acquire() async throws -> RateLimitDecision {
            let current = ServiceContext.current?.inMemorySpanContext
            seen.withLock { $0.append(current) }
            return .allowed(RateLimitStatus(policy: policy, remaining: 999, resetMilliseconds: 0))
        }
    }

    /// Answers from a script and remembers the span context current at each call.
    final class ContextRecordingProcessor: PaymentProcessor {
        private struct State {
            var answers: [ProcessorResult]
            var contexts: [InMemorySpanContext?] = []
            var lookupContexts: [InMemorySpanContext?] = []
            var lookupAnswer: ProcessorLookup = .unknown("not asked yet")
        }

        private let state: Mutex<State>

        init(_ first: ProcessorResult, then later: ProcessorResult...) {
            state = Mutex(State(answers: [first] + later))
        }

        var contexts: [InMemorySpanContext?] { state.withLock { $0.contexts } }
        var lookupContexts: [InMemorySpanContext?] { state.withLock { $0.lookupContexts } }
        var lookupAnswer: ProcessorLookup {
            get { state.withLock { $0.lookupAnswer } }
            set { state.withLock { $0.lookupAnswer = newValue } }
        }

        func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
            let current = ServiceContext.current?.inMemorySpanContext
            return state.withLock { state in
                state.contexts.append(current)
                return state.answers.count > 1 ? state.answers.removeFirst() : state.answers[0]
            }
        }

        func lookup(processorKey: String) async -> ProcessorLookup {
            let current = ServiceContext.current?.inMemorySpanContext
            return state.withLock { state in
                state.lookupContexts.append(current)
                return state.lookupAnswer
            }
        }
    }
}
