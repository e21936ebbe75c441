import HTTPTypes
import Tracing

/// Traces of requests, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one server span per
/// request (but the probes' and the scrape's, which come every few seconds and say
/// nothing about a payment), a child of the client's `traceparent` when it sent one.
///
/// A span names the route, the method, the status and the payment's outcome: never the
/// user id, the idempotency key or an amount, which are the client's business data.
public struct RequestTracing: Sendable {
    public let tracer: any Tracer

    public init(tracer: any Tracer) {
        self.tracer = tracer
    }

    /// The server span of a request, named `METHOD route` once the route is known.
    func serverSpan(method: HTTPRequest.Method, route: String?, headers: HTTPFields) -> any Span {
        var context = ServiceContext.topLevel
        tracer.extract(RequestTraceHeaders(headers), into: &context, using: RequestTraceHeaders.Extractor())
        let span = tracer.startSpan(Self.name(method, route), context: context, ofKind: .server)
        span.attributes["http.request.method"] = method.rawValue
        if let route { span.attributes["http.route"] = route }
        return span
    }

    static func name(_ method: HTTPRequest.Method, _ route: String?) -> String {
        route.map { "\(method.rawValue) \($0)" } ?? method.rawValue
    }

    /// Ends a server span with its answer's status: a 5xx is an error, a 4xx is the
    /// client's (OpenTelemetry's HTTP conventions for servers).
    static func end(_ span: any Span, status: Int) {
        span.attributes["http.response.status_code"] = status
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }
}
