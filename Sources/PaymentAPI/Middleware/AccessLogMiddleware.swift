import HTTPTypes
import Hummingbird
import Logging

/// One log line per request with method, path, status and duration. Payments log their
/// own richer line at info, so routine requests log at debug and only server errors rise
/// to warning: the hot path does not pay for a second line.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        Self.log(context.logger, method: request.method, path: request.uri.path, status: response.status.code, since: start)
        return response
    }

    /// Server errors at warning, the rest at debug.
    static func level(for status: Int) -> Logger.Level {
        status >= 500 ? .warning : .debug
    }

    /// The line itself, for both paths (the event-loop handler calls it too).
    static func log(_ logger: Logger, method: HTTPRequest.Method, path: String, status: Int, since start: ContinuousClock.Instant) {
        let level = level(for: status)
        guard logger.logLevel <= level else { return }
        logger.log(level: level, "request", metadata: [
            "method": .string(method.rawValue),
            "path": .string(path),
            "status": .stringConvertible(status),
            "duration_ms": .stringConvertible((ContinuousClock.now - start).milliseconds),
        ])
    }
}

extension Duration {
    /// Milliseconds with a fraction, for logs.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
