import Hummingbird
import Metrics
import Synchronization

/// Records `http_server_request_duration_seconds{method,route,status}`. The route is the
/// matched pattern (`/ledger/{user_id}`), never the raw path, so label values stay few.
final class MetricsMiddleware: RouterMiddleware, Sendable {
    typealias Context = AppRequestContext

    private let metrics: PaymentMetrics
    private let timers = Mutex<[String: Metrics.Timer]>([:])

    init(metrics: PaymentMetrics) {
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        timer(method: request.method.rawValue, route: route, status: response.status.code)
            .record(duration: ContinuousClock.now - start)
        return response
    }

    private func timer(method: String, route: String, status: Int) -> Metrics.Timer {
        let key = "\(method) \(route) \(status)"
        return timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = metrics.requestDuration(method: method, route: route, status: status)
            timers[key] = timer
            return timer
        }
    }
}
