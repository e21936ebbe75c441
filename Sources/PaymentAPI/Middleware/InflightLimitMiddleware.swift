import Hummingbird
import Metrics
import Synchronization

/// Sheds load: beyond `limit` requests in flight, answers 503 with Retry-After at once
/// instead of queueing. Probes and /metrics are exempt, so an overloaded pod is not
/// also restarted or left unobserved.
///
/// One count for the whole server: the router's routes (through the middleware) and
/// `POST /pay` on the event-loop handler enter the same one.
final class InflightLimit: Sendable {
    private let limit: Int
    private let count = Atomic<Int>(0)
    private let metrics: PaymentMetrics
    static let exemptPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    init(limit: Int, metrics: PaymentMetrics) {
        self.limit = limit
        self.metrics = metrics
    }

    /// Counts a request in; nil when it may go on, or the 503 to answer. Either way the
    /// caller calls `leave()` once it has answered.
    func enter() -> Problem? {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.inflight.increment()
        guard now <= limit else {
            return Problem.unavailable("the server has \(limit) requests in flight; retry shortly")
        }
        return nil
    }

    func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
        metrics.inflight.decrement()
    }
}

struct InflightLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let limit: InflightLimit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if InflightLimit.exemptPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        defer { limit.leave() }
        if let problem = limit.enter() { throw problem }
        return try await next(request, context)
    }
}
