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
        let level: Logger.Level = response.status.code >= 500 ? .warning : .debug
        if context.logger.logLevel <= level {
            context.logger.log(level: level, "request", metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .stringConvertible((ContinuousClock.now - start).milliseconds),
            ])
        }
        return response
    }
}

extension Duration {
    /// Milliseconds with a fraction, for logs.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
