import NIOCore
import Tracing

// A client span per command, under the caller's span. The caller makes its span the
// current `ServiceContext` while it calls (the payment driver does, for each port);
// without one, or without a tracer, no span is made and a command costs one check.
//
// A span says which command and script ran and whether it failed, by the error's kind:
// never a key, an argument or an error's text, which can hold a reply's contents.
extension RedisClient {
    /// The span of `command`, started now; nil when nothing traces this call.
    func span(for command: RedisCommand, script: RedisScript?) -> (any Span)? {
        guard let tracer = configuration.tracer, let context = ServiceContext.current else { return nil }
        let span = tracer.startSpan(script.map { "\(command.name) \($0.name)" } ?? command.name, context: context, ofKind: .client)
        span.attributes["db.system.name"] = "redis"
        span.attributes["db.operation.name"] = command.name
        return span
    }

    /// Ends `span` when `future` completes.
    func traced<Value>(_ future: EventLoopFuture<Value>, _ span: (any Span)?) {
        guard let span else { return }
        future.whenComplete { result in
            if case .failure(let error) = result { Self.failed(span, error) }
            span.end()
        }
    }

    /// Runs `body`, then ends `spans`.
    func traced<Value>(
        _ spans: [any Span], _ body: () async throws(RedisClientError) -> Value
    ) async throws(RedisClientError) -> Value {
        do {
            let value = try await body()
            for span in spans { span.end() }
            return value
        } catch {
            for span in spans {
                Self.failed(span, error)
                span.end()
            }
            throw error
        }
    }

    func traced<Value>(_ span: (any Span)?, _ body: () async throws(RedisClientError) -> Value) async throws(RedisClientError) -> Value {
        try await traced(span.map { [$0] } ?? [], body)
    }

    private static func failed(_ span: any Span, _ error: any Error) {
        let kind = (error as? RedisClientError)?.kind.rawValue ?? RedisClientError.Kind.connection.rawValue
        span.attributes["error.type"] = kind
        span.setStatus(SpanStatus(code: .error, message: kind))
    }
}
