import Hummingbird
import Tracing

/// The router's requests' server spans (`POST /pay` and the probes are served beside
/// the router, which makes theirs itself). The span's context is the current
/// `ServiceContext` while the request is handled, so every log line written for it
/// carries `trace_id` and `span_id` (the logging system's metadata provider reads it).
struct ServerSpanMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tracing: RequestTracing

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Prometheus scrapes every few seconds: no span.
        guard request.uri.path != "/metrics" else { return try await next(request, context) }
        let span = tracing.serverSpan(method: request.method, route: nil, headers: request.headers)
        do {
            let response = try await ServiceContext.withValue(span.context) { try await next(request, context) }
            named(span, request, context)
            RequestTracing.end(span, status: response.status.code)
            return response
        } catch {
            // ProblemMiddleware, inside this one, answers every error; what is left is not HTTP.
            named(span, request, context)
            RequestTracing.end(span, status: (error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }

    /// The route is known once the router has matched it: `GET /payments/{payment_id}`.
    /// An unmatched request keeps the method alone (Hummingbird's endpoint is then the
    /// marker `NotFound`, not a route).
    private func named(_ span: any Span, _ request: Request, _ context: Context) {
        guard let route = context.endpointPath, route.hasPrefix("/") else { return }
        span.operationName = RequestTracing.name(request.method, route)
        span.attributes["http.route"] = route
    }
}
