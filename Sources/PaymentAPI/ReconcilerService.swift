import Logging
import Metrics
import PaymentCore
import ServiceLifecycle

/// Runs the reconciler (PaymentCore's `Reconciler`) on every replica: a pass every
/// `RECONCILE_INTERVAL_MS`, and the queue's sizes as gauges after each.
///
/// `payment_reconcile_total{result}` counts what passes did; `payment_unknown_pending`
/// and `payment_unknown_unresolved` are the shared queue's sizes (the same number on
/// every replica: aggregate with max). An unresolved payment is money the processor may
/// hold that the ledger does not show, so it also gets a log line at error.
struct ReconcilerService: Service {
    let reconciler: Reconciler
    let logger: Logger
    private let results: [Reconciler.Result: Counter]
    private let pending: Gauge
    private let unresolved: Gauge

    init(reconciler: Reconciler, metricsFactory: any MetricsFactory, logger: Logger) {
        self.reconciler = reconciler
        self.logger = logger
        var results: [Reconciler.Result: Counter] = [:]
        for result in Reconciler.Result.allCases {
            results[result] = Counter(label: "payment_reconcile_total", dimensions: [("result", result.rawValue)], factory: metricsFactory)
        }
        self.results = results
        pending = Gauge(label: "payment_unknown_pending", factory: metricsFactory)
        unresolved = Gauge(label: "payment_unknown_unresolved", factory: metricsFactory)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            // An interval first: at start-up Redis may not be there yet (readiness).
            while !Task.isCancelled {
                try? await Task.sleep(for: reconciler.settings.interval)
                guard !Task.isCancelled else { return }
                await passOnce()
            }
        }
    }

    func passOnce() async {
        do {
            let done = try await reconciler.pass()
            for result in done {
                results[result]?.increment()
                if result == .unresolved {
                    logger.error("unknown payment unresolved after the reconciler's attempts: see GET /ledger/{user} unknown")
                }
            }
            if done.contains(where: { $0 != .busy }) {
                logger.info("reconciler pass", metadata: Dictionary(
                    uniqueKeysWithValues: Reconciler.Result.allCases.map { result in (result.rawValue, "\(done.count { $0 == result })") }
                ))
            }
            let counts = try await reconciler.queue.counts()
            pending.record(counts.pending)
            unresolved.record(counts.unresolved)
        } catch {
            // Redis is unavailable: readiness says so; the next pass tries again.
            logger.debug("reconciler pass failed", metadata: ["error": "\(error)"])
        }
    }
}
