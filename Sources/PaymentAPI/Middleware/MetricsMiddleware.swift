import Hummingbird
import Metrics
import Synchronization

/// `http_server_request_duration_seconds{method,route,status}`: one timer per label set,
/// made once and kept, shared by the router's middleware and the event-loop handler.
final class RequestTimers: Sendable {
    private let metrics: PaymentMetrics
    private let timers = Mutex<[Labels: Metrics.Timer]>([:])

    /// A timer's labels as a key: hashed as they are, no string built per request.
    private struct Labels: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    init(metrics: PaymentMetrics) {
        self.metrics = metrics
    }

    func record(method: String, route: String, status: Int, since start: ContinuousClock.Instant) {
        timer(method: method, route: route, status: status).record(duration: ContinuousClock.now - start)
    }

    private func timer(method: String, route: String, status: Int) -> Metrics.Timer {
        let key = Labels(method: method, route: route, status: status)
        return timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = metrics.requestDuration(method: method, route: route, status: status)
            timers[key] = timer
            return timer
        }
    }
}

/// Records every routed request's duration. The route is the matched pattern
/// (`/ledger/{user_id}`), never the raw path, so label values stay few.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let timers: RequestTimers

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        timers.record(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: response.status.code, since: start)
        return response
    }
}
