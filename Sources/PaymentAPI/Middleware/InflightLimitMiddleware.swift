import Hummingbird
import Metrics
import Synchronization

/// Sheds load: beyond `limit` requests in flight, answers 503 with Retry-After at once
/// instead of queueing. Probes and /metrics are exempt, so an overloaded pod is not
/// also restarted or left unobserved.
final class InflightLimitMiddleware: RouterMiddleware, Sendable {
    typealias Context = AppRequestContext

    private let limit: Int
    private let count = Atomic<Int>(0)
    private let metrics: PaymentMetrics
    static let exemptPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    init(limit: Int, metrics: PaymentMetrics) {
        self.limit = limit
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.exemptPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.inflight.increment()
        defer {
            count.wrappingSubtract(1, ordering: .relaxed)
            metrics.inflight.decrement()
        }
        guard now <= limit else {
            throw Problem.unavailable("the server has \(limit) requests in flight; retry shortly")
        }
        return try await next(request, context)
    }
}
