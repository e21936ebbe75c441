import Testing

/// A suite trait that starts one `redis-server` for the whole suite and kills it after
/// the suite's last test. Tests read it from `RedisServer.current`.
///
///     @Suite(.redisServer()) struct MyTests { … }
public struct RedisServerTrait: SuiteTrait, TestScoping {
    let arguments: [String]

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await RedisServer.start(arguments: arguments)
        defer { server.stop() }
        try await RedisServer.$current.withValue(server) {
            try await function()
        }
    }
}

extension Trait where Self == RedisServerTrait {
    /// One real `redis-server` for the suite, started with extra `arguments`.
    public static func redisServer(_ arguments: String...) -> Self {
        RedisServerTrait(arguments: arguments)
    }
}

extension RedisServer {
    /// The suite's server; a test that runs outside a `.redisServer` suite fails here.
    public static func required(sourceLocation: SourceLocation = #_sourceLocation) throws -> RedisServer {
        try #require(current, "this test must run inside a @Suite(.redisServer()) suite", sourceLocation: sourceLocation)
    }
}
